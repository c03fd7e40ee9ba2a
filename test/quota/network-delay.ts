/**
 * The network between AWS and Volcengine, on loopback: a proxy in a process of its own that holds
 * each request for a random delay between `minMs` and `maxMs` (uniform) before it forwards it to
 * `target`, so calls reach the emulator that long after they leave. Answers go back at once.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { stopChild } from '../support/child-process.ts';

const CHILD = fileURLToPath(import.meta.url);

export interface NetworkDelayOptions {
  target: string;
  minMs: number;
  maxMs: number;
}

export class NetworkDelayProcess {
  #child: ChildProcess | undefined;
  #url = '';

  constructor(readonly options: NetworkDelayOptions) {}

  get url(): string {
    return this.#url;
  }

  async start(): Promise<string> {
    const child = fork(CHILD, ['--child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child = child;
    child.send(this.options);
    this.#url = await new Promise<string>((resolve, reject) => {
      child.once('message', (message: { url: string }) => resolve(message.url));
      child.once('exit', (code) => reject(new Error(`the network delay proxy exited with ${code}`)));
    });
    return this.#url;
  }

  stop(): Promise<void> {
    return stopChild(this.#child);
  }
}

function serve({ target, minMs, maxMs }: NetworkDelayOptions): Promise<string> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      setTimeout(
        () => {
          const forwarded = request(
            new URL(req.url ?? '/', target),
            { method: req.method, headers: { ...req.headers, host: new URL(target).host }, agent },
            (answer) => {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
            },
          );
          forwarded.on('error', () => res.destroy());
          forwarded.end(Buffer.concat(chunks));
        },
        minMs + Math.random() * (maxMs - minMs),
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

if (process.argv.includes('--child')) {
  process.once('message', (options: NetworkDelayOptions) => void serve(options).then((url) => process.send!({ url })));
  process.on('SIGTERM', () => process.exit(0));
}
