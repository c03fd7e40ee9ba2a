/**
 * The two parts of undici the client uses, imported from undici's own files rather than its
 * index: the index pulls in fetch, WebSocket, mocks, caches and proxies, which costs the lookup
 * bundle ~260 KiB and ~30 ms of cold start. Types come from the public package.
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
