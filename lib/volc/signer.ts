/**
 * Volcengine OpenAPI request signing (HMAC-SHA256, "V4 style"), byte-compatible with the
 * official Node SDK (@volcengine/openapi, lib/base/sign.js): it signs every header it is
 * handed except a fixed unsignable list, adds X-Date, X-Security-Token (STS) and
 * X-Content-Sha256 (non-empty body), and sorts repeated query values by their encoded form.
 *
 * Pure functions plus one bounded signing-key cache; the clock and credentials are inputs.
 */
import { createHmac, hash } from 'node:crypto';

export interface VolcCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface SignInput extends VolcCredentials {
  region: string;
  service: string;
  method: string;
  path: string;
  /** Query pairs in caller order; a key given several times is a repeated parameter. */
  query: ReadonlyArray<readonly [string, string]>;
  headers: Readonly<Record<string, string>>;
  /** The exact body bytes that will be sent ("" or empty = no body). */
  body: string | Uint8Array;
  /** Signing instant: ISO 8601 string, Date or epoch milliseconds. */
  date: string | number | Date;
}

export interface SignResult {
  canonicalRequest: string;
  stringToSign: string;
  signedHeaders: string;
  signature: string;
  authorization: string;
  /** Headers the signer adds to the request, with the SDK's name casing. */
  headers: Record<string, string>;
}

export const ALGORITHM = 'HMAC-SHA256';
export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const UNSIGNABLE_HEADERS = new Set(['authorization', 'content-type', 'content-length', 'user-agent', 'presigned-expires', 'expect']);

const UNRESERVED = /^[A-Za-z0-9\-_.~]*$/;
const SUB_DELIMS_LEFT_BY_ENCODE_URI_COMPONENT = /[!'()*]/g;

/** RFC 3986 encoding: unreserved characters kept, every other UTF-8 byte as %XX (uppercase). */
export function uriEscape(value: string): string {
  if (UNRESERVED.test(value)) return value;
  try {
    return encodeURIComponent(value).replace(
      SUB_DELIMS_LEFT_BY_ENCODE_URI_COMPONENT,
      (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  } catch {
    // Unpaired surrogates cannot be UTF-8 encoded; the SDK blanks them the same way.
    return '';
  }
}

const compareCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Canonical query string: keys sorted by their raw (unencoded) form; a repeated key emits one
 * pair per value, values sorted by their encoded form; empty keys are dropped.
 */
export function canonicalQueryString(query: ReadonlyArray<readonly [string, string]>): string {
  if (query.length === 0) return '';
  // Stable sort by raw key keeps repeated keys adjacent; their values are then sorted encoded.
  const sorted = query.slice().sort((a, b) => compareCodeUnits(a[0], b[0]));
  let out = '';
  for (let i = 0; i < sorted.length; ) {
    const key = sorted[i]![0];
    let end = i + 1;
    while (end < sorted.length && sorted[end]![0] === key) end++;
    const encodedKey = uriEscape(key);
    if (encodedKey !== '') {
      if (end - i === 1) {
        out += `${out ? '&' : ''}${encodedKey}=${uriEscape(sorted[i]![1])}`;
      } else {
        const values: string[] = [];
        for (let j = i; j < end; j++) values.push(uriEscape(sorted[j]![1]));
        for (const encoded of values.sort(compareCodeUnits)) out += `${out ? '&' : ''}${encodedKey}=${encoded}`;
      }
    }
    i = end;
  }
  return out;
}

/** Runs of whitespace become one space, then the value is trimmed (the Node SDK's rule). */
export function canonicalHeaderValue(value: string): string {
  if (!/\s/.test(value)) return value;
  return value.replace(/\s+/g, ' ').replace(/^\s+|\s+$/g, '');
}

export interface CanonicalHeaders {
  /** "name:value" lines joined by \n (no trailing newline). */
  block: string;
  signedHeaders: string;
}

/** Lower-cased, sorted, unsignable headers left out. */
export function canonicalHeaders(headers: Readonly<Record<string, string>>): CanonicalHeaders {
  const entries: Array<[string, string]> = [];
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (UNSIGNABLE_HEADERS.has(lower)) continue;
    entries.push([lower, canonicalHeaderValue(String(headers[name]))]);
  }
  entries.sort((a, b) => compareCodeUnits(a[0], b[0]));
  let block = '';
  let signedHeaders = '';
  for (let i = 0; i < entries.length; i++) {
    const [name, value] = entries[i]!;
    if (i > 0) {
      block += '\n';
      signedHeaders += ';';
    }
    block += `${name}:${value}`;
    signedHeaders += name;
  }
  return { block, signedHeaders };
}

export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

let lastXDateSecond = Number.NaN;
let lastXDate = '';
let lastXDateDay = Number.NaN;
let lastShortDate = '';
const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/** YYYYMMDDTHHMMSSZ in UTC, milliseconds truncated. */
export function formatXDate(date: string | number | Date): string {
  const ms = typeof date === 'number' ? date : typeof date === 'string' ? Date.parse(date) : date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('signing date is not a valid date');
  const second = Math.floor(ms / 1000);
  if (second === lastXDateSecond) return lastXDate;
  const day = Math.floor(second / 86_400);
  if (day !== lastXDateDay) {
    const date = new Date(day * 86_400_000);
    lastShortDate = `${date.getUTCFullYear()}${pad2(date.getUTCMonth() + 1)}${pad2(date.getUTCDate())}`;
    lastXDateDay = day;
  }
  const inDay = second - day * 86_400;
  lastXDate = `${lastShortDate}T${pad2(Math.floor(inDay / 3600))}${pad2(Math.floor(inDay / 60) % 60)}${pad2(inDay % 60)}Z`;
  lastXDateSecond = second;
  return lastXDate;
}

export function credentialScope(shortDate: string, region: string, service: string): string {
  return `${shortDate}/${region}/${service}/request`;
}

export function canonicalRequest(parts: {
  method: string;
  path: string;
  canonicalQuery: string;
  canonicalHeaders: CanonicalHeaders;
  payloadHash: string;
}): string {
  const { block, signedHeaders } = parts.canonicalHeaders;
  return `${parts.method.toUpperCase()}\n${parts.path || '/'}\n${parts.canonicalQuery}\n${block}\n\n${signedHeaders}\n${parts.payloadHash}`;
}

export function stringToSign(xDate: string, scope: string, canonicalRequestText: string): string {
  return `${ALGORITHM}\n${xDate}\n${scope}\n${sha256Hex(canonicalRequestText)}`;
}

/** Signing keys are derived per secret/date/region/service; a small cache keeps the hot ones. */
export class SigningKeyCache {
  readonly #keys = new Map<string, Buffer>();
  constructor(readonly maxEntries = 32) {}

  get size(): number {
    return this.#keys.size;
  }

  get(secretAccessKey: string, shortDate: string, region: string, service: string): Buffer {
    const cacheKey = `${shortDate}\n${region}\n${service}\n${secretAccessKey}`;
    const cached = this.#keys.get(cacheKey);
    if (cached) return cached;
    const kDate = createHmac('sha256', secretAccessKey).update(shortDate).digest();
    const kRegion = createHmac('sha256', kDate).update(region).digest();
    const kService = createHmac('sha256', kRegion).update(service).digest();
    const kSigning = createHmac('sha256', kService).update('request').digest();
    if (this.#keys.size >= this.maxEntries) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(cacheKey, kSigning);
    return kSigning;
  }
}

const defaultKeyCache = new SigningKeyCache();

function isEmptyBody(body: string | Uint8Array): boolean {
  return body.length === 0;
}

/** Signs one request the way the official Node SDK does; see the module comment. */
export function signVolcRequest(input: SignInput, keyCache: SigningKeyCache = defaultKeyCache): SignResult {
  return signWithCanonicalQuery(input, canonicalQueryString(input.query), keyCache);
}

/**
 * signVolcRequest for a caller that already holds the canonical query string (it sends the query
 * in exactly that form), so it is not built twice; `input.query` is not read.
 */
export function signWithCanonicalQuery(
  input: Omit<SignInput, 'query'>,
  canonicalQuery: string,
  keyCache: SigningKeyCache = defaultKeyCache,
): SignResult {
  const xDate = formatXDate(input.date);
  const shortDate = xDate.slice(0, 8);
  const hasBody = !isEmptyBody(input.body);

  const added: Record<string, string> = { 'X-Date': xDate };
  if (input.sessionToken) added['X-Security-Token'] = input.sessionToken;
  let payloadHash: string;
  if (hasBody) {
    payloadHash = sha256Hex(input.body);
    added['X-Content-Sha256'] = payloadHash;
  } else {
    payloadHash = input.headers['X-Content-Sha256'] ?? EMPTY_BODY_SHA256;
  }

  const allHeaders: Record<string, string> = {};
  for (const name of Object.keys(input.headers)) {
    if (!(name in added)) allHeaders[name] = input.headers[name]!;
  }
  Object.assign(allHeaders, added);

  const headerSet = canonicalHeaders(allHeaders);
  const canonical = canonicalRequest({
    method: input.method,
    path: input.path,
    canonicalQuery,
    canonicalHeaders: headerSet,
    payloadHash,
  });
  const scope = credentialScope(shortDate, input.region, input.service);
  const toSign = stringToSign(xDate, scope, canonical);
  const signingKey = keyCache.get(input.secretAccessKey, shortDate, input.region, input.service);
  const signature = createHmac('sha256', signingKey).update(toSign).digest('hex');
  const credential = `${input.accessKeyId}/${scope}`;
  const authorization = `${ALGORITHM} Credential=${credential}, SignedHeaders=${headerSet.signedHeaders}, Signature=${signature}`;

  return {
    canonicalRequest: canonical,
    stringToSign: toSign,
    signedHeaders: headerSet.signedHeaders,
    signature,
    authorization,
    headers: { ...added, Authorization: authorization },
  };
}
