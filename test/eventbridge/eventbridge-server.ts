/**
 * A minimal EventBridge peer on loopback: the AWS JSON 1.1 protocol's PutEvents (X-Amz-Target
 * AWSEvents.PutEvents), enough for the real @aws-sdk/client-eventbridge to publish. It records the
 * entries it accepted and can refuse them: an entry failed in the answer (FailedEntryCount > 0,
 * as EventBridge reports a throttled or invalid entry) or the whole request answered HTTP 500.
 * Stand-in for AWS EventBridge, which cannot run here (no Docker, no network); it does not check
 * SigV4 signatures, rules or targets.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PublishedEntry {
  EventBusName: string;
  Source: string;
  DetailType: string;
  /** The entry's Detail, parsed. */
  Detail: Record<string, unknown>;
  Time?: number | undefined;
  /** The EventId the peer gave the entry. */
  Id: string;
}

export type InjectedFailure =
  /** The request is answered 200 with the entries failed (FailedEntryCount > 0). */
  | { kind: 'entry'; errorCode?: string; times: number }
  /** The request is answered HTTP 500 InternalException (the SDK retries it). */
  | { kind: 'http500'; times: number };

export class EventBridgeTestServer {
  /** Every entry accepted, in order. */
  readonly published: PublishedEntry[] = [];
  /** Requests received: PutEvents calls (each attempt of the SDK counts) and what was refused. */
  readonly counts = { requests: 0, putEvents: 0, refused: 0 };
  /** The User-Agent header of every request received. */
  readonly userAgents: string[] = [];
  /** Called with each accepted entry (npm start prints them). */
  onPublish: ((entry: PublishedEntry) => void) | undefined;
  readonly #failures: InjectedFailure[] = [];
  #server: Server | undefined;
  #url = '';

  get url(): string {
    return this.#url;
  }

  /** Refuses the next `times` requests as described; failures queue in order. */
  inject(failure: InjectedFailure): void {
    this.#failures.push({ ...failure });
  }

  clearFaults(): void {
    this.#failures.length = 0;
  }

  async start(port = 0): Promise<string> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.counts.requests++;
        this.userAgents.push(String(req.headers['user-agent'] ?? ''));
        const send = (status: number, body: unknown) =>
          res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
        if (req.headers['x-amz-target'] !== 'AWSEvents.PutEvents')
          return send(400, { __type: 'UnknownOperationException', message: `unsupported ${String(req.headers['x-amz-target'])}` });
        this.counts.putEvents++;
        let input: { Entries?: Array<Record<string, unknown>> };
        try {
          input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof input;
        } catch {
          return send(400, { __type: 'ValidationException', message: 'body is not JSON' });
        }
        const entries = input.Entries ?? [];
        if (entries.length < 1 || entries.length > 10)
          return send(400, { __type: 'ValidationException', message: 'Entries must hold 1 to 10 entries' });
        const failure = this.#failures[0];
        if (failure) {
          if (--failure.times <= 0) this.#failures.shift();
          this.counts.refused++;
          if (failure.kind === 'http500') return send(500, { __type: 'InternalException', message: 'injected' });
          const ErrorCode = failure.errorCode ?? 'ThrottlingException';
          return send(200, {
            FailedEntryCount: entries.length,
            Entries: entries.map(() => ({ ErrorCode, ErrorMessage: 'injected' })),
          });
        }
        const accepted = entries.map((entry) => {
          const record: PublishedEntry = {
            EventBusName: String(entry.EventBusName ?? 'default'),
            Source: String(entry.Source),
            DetailType: String(entry.DetailType),
            Detail: JSON.parse(String(entry.Detail)) as Record<string, unknown>,
            Time: typeof entry.Time === 'number' ? entry.Time : undefined,
            Id: randomUUID(),
          };
          this.published.push(record);
          this.onPublish?.(record);
          return { EventId: record.Id };
        });
        return send(200, { FailedEntryCount: 0, Entries: accepted });
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.#url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
