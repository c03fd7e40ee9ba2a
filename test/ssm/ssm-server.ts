/**
 * A minimal SSM Parameter Store peer on loopback: the AWS JSON 1.1 protocol's GetParameter, enough
 * for the real @aws-sdk/client-ssm to read SecureStrings. Stand-in for AWS SSM, which cannot run
 * here (no Docker, no network); it does not check SigV4 signatures.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class SsmTestServer {
  readonly parameters = new Map<string, string>();
  calls = 0;
  /** The User-Agent header of every request received. */
  readonly userAgents: string[] = [];
  failing = false;
  /** How long each answer waits (a slow SSM); GetParameter calls answered so far. */
  latencyMs = 0;
  answered = 0;
  #server: Server | undefined;

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        this.calls++;
        this.userAgents.push(String(req.headers['user-agent'] ?? ''));
        if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
        const send = (status: number, body: unknown) => {
          this.answered++;
          if (!res.destroyed) res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
        };
        if (this.failing) return send(500, { __type: 'InternalServerError', message: 'injected' });
        if (req.headers['x-amz-target'] !== 'AmazonSSM.GetParameter') return send(400, { __type: 'UnknownOperationException' });
        const { Name } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Name: string };
        const value = this.parameters.get(Name);
        if (value === undefined) return send(400, { __type: 'ParameterNotFound', message: `Parameter ${Name} not found.` });
        return send(200, {
          Parameter: { Name, Type: 'SecureString', Value: value, Version: 1, ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${Name}` },
        });
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
