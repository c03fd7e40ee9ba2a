/**
 * S3-protocol server for tests and the local stack: fauxqs (a real S3 API implementation, in
 * memory or persisted to a folder, in its own process) behind a small HTTP proxy on 127.0.0.1 that
 *
 * - enforces conditional writes, which fauxqs ignores: PUT with `If-None-Match: *` fails with
 *   412 when the key exists, PUT with `If-Match: <etag>` fails with 412 when the current ETag
 *   differs; checks and writes to one key are serialised;
 * - injects faults for tests: added latency, 5xx answers, dropped connections, per operation.
 *
 * Mocked boundary: none; the proxy forwards the real requests to a real S3 server.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type S3Operation = 'GET' | 'PUT' | 'DELETE' | 'LIST' | 'HEAD';

export interface S3Fault {
  kind: 'latency' | 'http5xx' | 'drop';
  operation?: S3Operation;
  /** Only keys containing this text. */
  keyContains?: string;
  times?: number;
  latencyMs?: number;
  /** Let this many matching requests through before the fault starts. */
  after?: number;
}

export interface S3ServerOptions {
  bucket?: string;
  /** Folder where fauxqs persists objects across restarts (local stack). */
  dataDir?: string;
  port?: number;
}

export class S3TestServer {
  readonly bucket: string;
  readonly counts: Record<S3Operation, number> = { GET: 0, PUT: 0, DELETE: 0, LIST: 0, HEAD: 0 };
  /** Requests whose client closed the connection before they were answered (a caller's abort cut them). */
  abandoned = 0;
  readonly #faults: Array<S3Fault & { seen: number }> = [];
  readonly #locks = new Map<string, Promise<void>>();
  readonly #sockets = new Set<Socket>();
  #backend: ChildProcess | undefined;
  #backendUrl = new URL('http://127.0.0.1');
  #proxy: Server | undefined;
  #url = '';

  constructor(readonly options: S3ServerOptions = {}) {
    this.bucket = options.bucket ?? 'rtc-segment-archive';
  }

  async start(): Promise<string> {
    const backend = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--import', 'tsx', fileURLToPath(new URL('./fauxqs-process.ts', import.meta.url))],
      {
        stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
        env: { ...process.env, FAUXQS_BUCKET: this.bucket, ...(this.options.dataDir ? { FAUXQS_DATA_DIR: this.options.dataDir } : {}) },
      },
    );
    this.#backend = backend;
    const address = await new Promise<string>((resolve, reject) => {
      let output = '';
      backend.stdout!.on('data', (chunk) => {
        output += chunk;
        const match = /URL (\S+)/.exec(output);
        if (match) resolve(match[1]!);
      });
      backend.once('exit', (code) => reject(new Error(`the S3 server exited with ${code}`)));
    });
    this.#backendUrl = new URL(address);
    // A client that gives up on a request (a lookup past its deadline) closes the socket mid-way: that request just ends.
    const proxy = createServer((req, res) =>
      this.#handle(req, res).catch(() => {
        if (!res.headersSent && !res.destroyed) res.writeHead(502).end();
      }),
    );
    this.#proxy = proxy;
    proxy.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => proxy.listen(this.options.port ?? 0, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    return this.#url;
  }

  get url(): string {
    return this.#url;
  }

  /** Environment for lib/archive: endpoint, path-style, dummy credentials. */
  clientEnv(): Record<string, string> {
    return {
      ARCHIVE_BUCKET: this.bucket,
      S3_ENDPOINT: this.#url,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    };
  }

  inject(fault: S3Fault): void {
    this.#faults.push({ times: Number.POSITIVE_INFINITY, after: 0, ...fault, seen: 0 });
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.#proxy ? this.#proxy.close(() => resolve()) : resolve()));
    const backend = this.#backend;
    if (backend && backend.exitCode === null) {
      const exited = new Promise((resolve) => backend.once('exit', resolve));
      backend.kill('SIGTERM');
      await exited;
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const method = req.method ?? 'GET';
    const isList = method === 'GET' && (url.searchParams.has('list-type') || url.pathname.split('/').filter(Boolean).length === 1);
    const operation: S3Operation = isList ? 'LIST' : (method as S3Operation);
    this.counts[operation] = (this.counts[operation] ?? 0) + 1;
    const key = decodeURIComponent(url.pathname);

    const fault = this.#takeFault(operation, key);
    res.on('close', () => {
      if (!res.writableFinished && fault?.kind !== 'drop') this.abandoned++;
    });
    if (fault?.kind === 'latency') await new Promise((r) => setTimeout(r, fault.latencyMs ?? 1000));
    if (res.destroyed) return; // the client gave up waiting: the request is not served
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'http5xx') {
      req.resume();
      res
        .writeHead(503, { 'Content-Type': 'application/xml' })
        .end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Injected fault</Message></Error>');
      return;
    }

    const body = await readBody(req);
    const conditional = method === 'PUT' && (req.headers['if-none-match'] || req.headers['if-match']);
    if (!conditional) {
      await this.#forward(req, body, res);
      return;
    }
    await this.#withLock(key, async () => {
      const head = await this.#send('HEAD', req.url ?? '/', {}, Buffer.alloc(0));
      const exists = head.status === 200;
      const etag = head.headers.etag;
      const ifNoneMatch = req.headers['if-none-match'];
      const ifMatch = req.headers['if-match'];
      const failed =
        (ifNoneMatch === '*' && exists) || (ifMatch !== undefined && (!exists || normaliseEtag(ifMatch) !== normaliseEtag(String(etag))));
      if (failed) {
        res
          .writeHead(412, { 'Content-Type': 'application/xml' })
          .end(
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>' +
              '<Message>At least one of the pre-conditions you specified did not hold</Message></Error>',
          );
        return;
      }
      await this.#forward(req, body, res);
    });
  }

  #takeFault(operation: S3Operation, key: string): S3Fault | undefined {
    for (const [index, fault] of this.#faults.entries()) {
      if (fault.operation && fault.operation !== operation) continue;
      if (fault.keyContains && !key.includes(fault.keyContains)) continue;
      fault.seen++;
      if (fault.seen <= (fault.after ?? 0)) return undefined;
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) this.#faults.splice(index, 1);
      return fault;
    }
    return undefined;
  }

  async #withLock(key: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    const tail = current.catch(() => undefined);
    this.#locks.set(key, tail);
    await current;
    if (this.#locks.get(key) === tail) this.#locks.delete(key);
  }

  async #forward(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
    const headers = { ...req.headers };
    delete headers['if-none-match'];
    delete headers['if-match'];
    const answer = await this.#send(req.method ?? 'GET', req.url ?? '/', headers, body);
    res.writeHead(answer.status, answer.headers).end(answer.body);
  }

  #send(
    method: string,
    path: string,
    headers: IncomingMessage['headers'],
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: this.#backendUrl.hostname,
          port: this.#backendUrl.port,
          method,
          path,
          headers: { ...headers, host: this.#backendUrl.host },
        },
        (response) => {
          void readBody(response).then(
            (data) => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: data }),
            reject,
          );
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }
}

async function readBody(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function normaliseEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/"/g, '');
}
