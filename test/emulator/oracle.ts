/**
 * Signature oracle: recomputes a request's signature with the official Volcengine Node SDK's own
 * Signer (@volcengine/openapi), independent of lib/volc/signer.ts.
 *
 * Limitation: the SDK never signs content-type/user-agent/content-length, so a request that lists
 * them in SignedHeaders (as the Go SDK does) cannot be reproduced here and is rejected.
 */
import { createRequire } from 'node:module';
import { timingSafeEqual } from 'node:crypto';

const require = createRequire(import.meta.url);
const SdkSigner = (require('@volcengine/openapi/lib/base/sign.js') as { default: new (...args: unknown[]) => SdkSignerInstance }).default;

interface SdkSignerInstance {
  request: { headers: Record<string, string> };
  addAuthorization(credentials: { accessKeyId: string; secretKey: string; sessionToken?: string }, date: Date): void;
}

export interface OracleRequest {
  method: string;
  path: string;
  query: Array<[string, string]>;
  /** Lower-cased header names, as node:http gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface OracleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

const ADDED_BY_SIGNER = new Set(['x-date', 'x-security-token', 'x-content-sha256']);

/** Signs with the SDK exactly what the declared SignedHeaders cover, and returns the Authorization value. */
export function sdkAuthorization(
  request: OracleRequest,
  signedHeaders: string[],
  credentials: OracleCredentials,
  region: string,
  service: string,
  date: Date,
): string {
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    if (ADDED_BY_SIGNER.has(name)) continue;
    const value = request.headers[name];
    headers[name] = Array.isArray(value) ? value.join(',') : (value ?? '');
  }
  const params: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of request.query) {
    const existing = Object.hasOwn(params, key) ? params[key] : undefined;
    if (existing === undefined) params[key] = value;
    else params[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  const signer = new SdkSigner(
    { region, method: request.method, pathname: request.path, params, headers, body: request.body || undefined },
    service,
  );
  signer.addAuthorization(
    {
      accessKeyId: credentials.accessKeyId,
      secretKey: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
    },
    date,
  );
  return signer.request.headers.Authorization!;
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
