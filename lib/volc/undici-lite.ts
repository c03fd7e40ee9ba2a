/**
 * The two parts of undici the client uses, imported from undici's own files rather than its
 * index: the index pulls in fetch, WebSocket, mocks, caches and proxies. Measured 2026-11-28 with
 * `npm run bench -- cold`, importing the index adds 254 KiB to the lookup bundle (1,266 KiB, over
 * the 1,024 KiB goal) and ~20 ms to its cold import (×0.49–0.51 of the anchor instead of
 * ×0.33–0.37). Node's own fetch ships no code at all, but measured 2026-12-03 with `npm run bench
 * -- client` it costs ×3.0 the CPU per request of undici's request (218 vs 72 µs) for a cold import
 * and first request ×0.88 as long (56 vs 63 ms): the CPU of every warm call outweighs ~7 ms once per
 * instance, so the client keeps these files. Types come from the public package.
 */
import type { Agent as AgentType, Dispatcher } from 'undici';
// @ts-expect-error undici ships no declarations for its internal files; typed below.
import AgentImpl from 'undici/lib/dispatcher/agent.js';
// @ts-expect-error as above
import requestImpl from 'undici/lib/api/api-request.js';

export const Agent = AgentImpl as typeof AgentType;

/** undici's Dispatcher#request, bound to the given dispatcher. */
export function request(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return (requestImpl as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>).call(dispatcher, options);
}
