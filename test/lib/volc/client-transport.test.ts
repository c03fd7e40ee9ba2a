/**
 * lib/volc/client.ts's transport: undici's Agent and request, imported from undici's own files
 * (the index costs the lookup ~20 ms of cold start). Those paths are not undici's public API, so undici is
 * pinned exactly, and this test fails loudly when the pin or the files change.
 */
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Agent, request } from '../../../lib/volc/client.ts';

const require = createRequire(import.meta.url);
const pinned = (require('../../../package.json') as { dependencies: Record<string, string> }).dependencies.undici!;
const installed = (require('undici/package.json') as { version: string }).version;

describe("the client's transport (two undici files)", () => {
  it('relies on an exactly pinned undici, the one installed', () => {
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed).toBe(pinned);
  });

  it("gets a working Agent and request from undici's internal files", async () => {
    const server = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ${req.url}`));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = new Agent({ keepAliveTimeout: 1_000 });
    try {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const response = await request(agent, {
        origin,
        path: '/?Action=GetSegmentTask',
        method: 'GET',
        headersTimeout: 1_000,
        bodyTimeout: 1_000,
      });
      expect(response.statusCode).toBe(200);
      expect(await response.body.text()).toBe('GET /?Action=GetSegmentTask');
    } finally {
      await agent.close();
      server.close();
    }
  });
});
