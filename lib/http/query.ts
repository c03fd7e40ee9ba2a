/** Reads a raw query string strictly: each parameter at most once, percent-encoding checked. */
import { InvalidParameterError, MissingParameterError } from '../errors.ts';

export type QueryParameters = Map<string, string>;

const MAX_QUERY_LENGTH = 8192;

export function parseQuery(rawQueryString: string): QueryParameters {
  if (rawQueryString.length > MAX_QUERY_LENGTH)
    throw new InvalidParameterError('query string', `longer than ${MAX_QUERY_LENGTH} characters`);
  const parameters: QueryParameters = new Map();
  if (rawQueryString === '') return parameters;
  for (const part of rawQueryString.split('&')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const rawName = equals < 0 ? part : part.slice(0, equals);
    const rawValue = equals < 0 ? '' : part.slice(equals + 1);
    const name = decodeComponent(rawName, 'a query parameter name');
    const value = decodeComponent(rawValue, printable(name));
    if (parameters.has(name)) throw new InvalidParameterError(printable(name), 'it is given more than once');
    parameters.set(name, value);
  }
  return parameters;
}

export function requireParameter(parameters: QueryParameters, name: string): string {
  const value = parameters.get(name);
  if (value === undefined || value === '') throw new MissingParameterError(name);
  return value;
}

function decodeComponent(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new InvalidParameterError(what, 'it is not valid percent-encoded UTF-8');
  }
}

/** A parameter name safe to echo in a message: printable ASCII, at most 64 characters. */
export function printable(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 61)}...` : clean;
}
