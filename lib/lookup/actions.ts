/** Parses a lookup request: the same query a Volcengine client sends for GetSegmentTask. */
import { AppError, RequestRejectedError } from '../errors.ts';
import type { HttpApiEvent } from '../http/api-gateway.ts';
import { parseQuery, printable, requireParameter, requirePattern, type QueryParameters } from '../http/query.ts';
import { SUPPORTED_VERSIONS, VOLC_ID_PATTERN, type ApiVersion } from '../volc/schemas.ts';
import type { TaskAddress } from '../volc/client.ts';

export const ID_RULE = 'it must be 1 to 128 characters of letters, digits, "_", "@", "-" or "."';

export interface LookupRequest {
  action: string;
  version: ApiVersion;
  parameters: QueryParameters;
}

export function readLookupRequest(event: HttpApiEvent, actions: readonly string[]): LookupRequest {
  const method = event.requestContext.http.method.toUpperCase();
  if (method !== 'GET') {
    throw new RequestRejectedError(405, 'InvalidHttpMethod', `The HTTP method ${printable(method)} is not allowed; use GET.`, { headers: { Allow: 'GET' } });
  }
  if (event.body) throw new RequestRejectedError(400, 'InvalidParameter', 'A GET request must not carry a body.');
  const parameters = parseQuery(event.rawQueryString);
  const action = requireParameter(parameters, 'Action');
  const version = requireParameter(parameters, 'Version');
  if (!actions.includes(action)) {
    throw new AppError(404, 'InvalidActionOrVersion', `The Action ${printable(action)} is not supported; use one of ${actions.join(', ')}.`);
  }
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new AppError(404, 'InvalidActionOrVersion', `The Version ${printable(version)} is not supported for ${action}; use ${SUPPORTED_VERSIONS.join(' or ')}.`);
  }
  return { action, version: version as ApiVersion, parameters };
}

export function readTaskAddress(parameters: QueryParameters): TaskAddress {
  return {
    appId: requirePattern(parameters, 'AppId', VOLC_ID_PATTERN, ID_RULE),
    roomId: requirePattern(parameters, 'RoomId', VOLC_ID_PATTERN, ID_RULE),
    taskId: requirePattern(parameters, 'TaskId', VOLC_ID_PATTERN, ID_RULE),
  };
}
