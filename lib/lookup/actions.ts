/** Parses a lookup request: the same query a Volcengine client sends for GetSegmentTask. */
import { AppError, InvalidParameterError, RequestRejectedError } from '../errors.ts';
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

export function readRoom(parameters: QueryParameters): { appId: string; roomId: string } {
  return {
    appId: requirePattern(parameters, 'AppId', VOLC_ID_PATTERN, ID_RULE),
    roomId: requirePattern(parameters, 'RoomId', VOLC_ID_PATTERN, ID_RULE),
  };
}

export function readTaskAddress(parameters: QueryParameters): TaskAddress {
  return { ...readRoom(parameters), taskId: requirePattern(parameters, 'TaskId', VOLC_ID_PATTERN, ID_RULE) };
}

/** An optional decimal integer parameter within [min, max]. */
export function readOptionalInteger(parameters: QueryParameters, name: string, min: number, max: number): number | undefined {
  const raw = parameters.get(name);
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,16}$/.test(raw)) throw new InvalidParameterError(name, 'it must be a whole number');
  const value = Number(raw);
  if (value < min || value > max) throw new InvalidParameterError(name, `it must be between ${min} and ${max}`);
  return value;
}

const PAGE_TOKEN = /^[A-Za-z0-9+/=_.~-]{1,1024}$/;

export function readPageToken(parameters: QueryParameters): string | undefined {
  const raw = parameters.get('PageToken');
  if (raw === undefined || raw === '') return undefined;
  if (!PAGE_TOKEN.test(raw)) throw new InvalidParameterError('PageToken', 'it is not a token this API returned');
  return raw;
}
