/**
 * Volcengine RTC OpenAPI client on undici: signs the exact bytes it sends, keeps one keep-alive
 * Agent per process, takes a slot from its RateLimiter before each attempt (the fleet's shared
 * quota, lib/quota/fleet-limiter.ts, or the TokenBucket below), retries throttling, 429, 5xx and
 * network errors with exponential backoff and full jitter, and never waits past the caller's
 * deadline. It raises the Volcengine errors of lib/errors.ts. In order: the transport (two undici
 * files), the limiter port and its token bucket, the client.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent as AgentType, Dispatcher } from 'undici';
// @ts-expect-error undici ships no declarations for its internal files; typed below.
import AgentImpl from 'undici/lib/dispatcher/agent.js';
// @ts-expect-error as above
import requestImpl from 'undici/lib/api/api-request.js';
import type { z } from 'zod';
import { SigningKeyCache, canonicalQueryString, signWithCanonicalQuery, type VolcCredentials } from './signer.ts';
import {
  GenericResponseSchema,
  GetSegmentTaskResponseSchema,
  readResultWithoutTaskId,
  type ApiVersion,
  type TaskAddress,
} from './schemas.ts';
import { DEFAULT_LATE_ALLOWANCE_MS } from '../quota/slots.ts';
import {
  DEADLINE_PASSED,
  VolcApiError,
  VolcBudgetExhaustedError,
  VolcCredentialsError,
  VolcDeadlineError,
  VolcError,
  VolcMalformedResponseError,
  VolcTransportError,
} from '../errors.ts';
import type {
  CallOptions,
  GetSegmentTaskResult,
  RoomAddress,
  SegmentTaskUpstream,
  WithoutTaskIdResult,
  WithoutTaskIdUpstream,
} from '../upstream.ts';

// ── The transport ──

/**
 * The two parts of undici the client uses, imported from undici's own files rather than its
 * index: the index pulls in fetch, WebSocket, mocks, caches and proxies. Measured 2026-11-28 with
 * `npm run bench -- cold`, importing the index adds 254 KiB to the lookup bundle (1,266 KiB, over
 * the 1,024 KiB goal) and ~20 ms to its cold import (×0.49–0.51 of the anchor instead of
 * ×0.33–0.37). Node's own fetch ships no code at all, but measured 2026-12-03 with `npm run bench
 * -- client` (six runs) it costs ×2.4–3.0 the CPU per request of undici's request (about 150-220 µs
 * more) and saves 7-37 ms of cold import and first request (×0.57–0.88) once per instance: past a
 * few hundred calls, which a warm instance under the quota's load makes in seconds, the CPU of
 * every call outweighs it, so the client keeps these files. Types come from the public package.
 */
export const Agent = AgentImpl as typeof AgentType;

/** undici's Dispatcher#request, bound to the given dispatcher. */
export function request(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return (requestImpl as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>).call(dispatcher, options);
}

// ── The limiter port, and the per-instance token bucket ──

export interface TokenBucketOptions {
  ratePerSecond: number;
  burst: number;
  /** How late after its slot a call may still leave (default DEFAULT_LATE_ALLOWANCE_MS). */
  lateAllowanceMs?: number;
  now?: () => number;
}

/**
 * What the client spends before every attempt: a slot to call Volcengine in. `reserve` answers
 * how long to wait for the slot, or throws VolcBudgetExhaustedError (with a retry-after) when the
 * wait would pass maxWaitMs. `priority` orders waiting callers (lower first: the archiver passes
 * a task's deadline); `signal` is the caller's deadline (a limiter that waits on a store stops at it).
 */
export interface RateLimiter {
  reserve(maxWaitMs: number, priority?: number, signal?: AbortSignal): number | Promise<number>;
  /**
   * How late after its slot a call may still leave. The client checks right before a request
   * leaves; a later one gives its slot up (`missed`) and takes another: late is never sent.
   */
  readonly lateAllowanceMs: number;
  missed?(): void;
  /**
   * How far the limiter's clock has been moved forward in all (the shared quota's fleet time): a
   * slot granted before a move lies that much earlier than its wait said, and the client counts
   * it as that much later.
   */
  clockShiftMs?(): number;
}

/**
 * The per-instance limiter: right for one instance only (local runs, or QUOTA_TABLE unset). A token
 * bucket with FIFO reservations: with rate r/s and burst b, no window of T seconds sees more than
 * b + r*T slots. A call leaves up to the late allowance after its slot and reaches Volcengine after
 * a network delay that varies, so a second there gathers the slots of 1,000 ms + both:
 * lib/config.ts (bucketFits) keeps b + r × that span within the account's 60.
 */
export class TokenBucket implements RateLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly lateAllowanceMs: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) throw new RangeError('rate must be > 0 and burst >= 1');
    this.ratePerSecond = options.ratePerSecond;
    this.burst = options.burst;
    this.lateAllowanceMs = options.lateAllowanceMs ?? DEFAULT_LATE_ALLOWANCE_MS;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = options.burst;
    this.#updatedAt = this.#now();
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#updatedAt) * this.ratePerSecond) / 1000);
    this.#updatedAt = now;
  }

  /**
   * Reserves the next slot and returns how long to wait for it, or throws
   * VolcBudgetExhaustedError (reserving nothing) when the wait would be longer than maxWaitMs.
   */
  reserve(maxWaitMs = Number.POSITIVE_INFINITY): number {
    this.#refill();
    const waitMs = this.#tokens >= 1 ? 0 : ((1 - this.#tokens) * 1000) / this.ratePerSecond;
    if (waitMs > maxWaitMs) throw new VolcBudgetExhaustedError(waitMs);
    this.#tokens -= 1;
    return waitMs;
  }
}

// ── The client ──

export type CredentialsProvider = () => VolcCredentials | Promise<VolcCredentials>;

export interface RetryPolicy {
  /** Attempts in total, including the first. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface VolcClientOptions {
  endpoint: string;
  region: string;
  service: string;
  /** The keys, or what reads them when a call needs them (an SSM SecureString, cached). */
  credentials: VolcCredentials | CredentialsProvider;
  limiter: RateLimiter;
  retry: RetryPolicy;
  /** Wall clock for X-Date (epoch ms). */
  now?: () => number;
  /** Source of randomness for jitter, in [0, 1). */
  random?: () => number;
  dispatcher?: Dispatcher;
}

const MAX_RESPONSE_BYTES = 1024 * 1024;

let sharedAgent: Dispatcher | undefined;
/** One keep-alive connection pool per process, created on first use. */
export function sharedDispatcher(): Dispatcher {
  sharedAgent ??= new Agent({
    keepAliveTimeout: 30_000,
    connections: 64,
    maxResponseSize: MAX_RESPONSE_BYTES,
    connect: { timeout: 5_000 },
  });
  return sharedAgent;
}

/** A request on its way: wrapped, so that returning it from an async function does not wait for it. */
interface InFlight {
  answer: Promise<{ status: number; text: string }>;
}

/** Sleeps until performance.now() reaches `at`: timers may fire early by the time the loop spent before they were set. */
async function sleepUntil(at: number): Promise<void> {
  for (let left = at - performance.now(); left > 0; left = at - performance.now()) await sleep(Math.ceil(left));
}

export const ERROR_TASK_NOT_FOUND = 'InvalidParameter.ErrorActiveTaskNotFound';

export class VolcClient implements SegmentTaskUpstream, WithoutTaskIdUpstream {
  readonly #options: VolcClientOptions;
  readonly #origin: string;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #keyCache = new SigningKeyCache(8);

  constructor(options: VolcClientOptions) {
    this.#options = options;
    this.#origin = new URL(options.endpoint).origin;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** GetSegmentTask; an unknown or expired task gives `task: undefined`, not an error. */
  async getSegmentTask(version: ApiVersion, address: TaskAddress, options: CallOptions): Promise<GetSegmentTaskResult> {
    const query: Array<[string, string]> = [
      ['Action', 'GetSegmentTask'],
      ['Version', version],
      ['AppId', address.appId],
      ['RoomId', address.roomId],
      ['TaskId', address.taskId],
    ];
    try {
      const { parsed, attempts } = await this.#call(query, GetSegmentTaskResponseSchema, options);
      return { task: parsed.Result?.SegmentTask ?? undefined, requestId: parsed.ResponseMetadata.RequestId, attempts };
    } catch (error) {
      if (error instanceof VolcApiError && error.upstream.code === ERROR_TASK_NOT_FOUND) {
        return { task: undefined, requestId: error.upstream.requestId, attempts: 1 };
      }
      throw error;
    }
  }

  /**
   * GetSegmentTask without TaskId, whose answer is unconfirmed: read only for its envelope, its
   * Result kept whatever its shape (secrets removed); every error, ErrorActiveTaskNotFound too, is thrown.
   */
  async getSegmentTaskWithoutTaskId(version: ApiVersion, room: RoomAddress, options: CallOptions): Promise<WithoutTaskIdResult> {
    const query: Array<[string, string]> = [
      ['Action', 'GetSegmentTask'],
      ['Version', version],
      ['AppId', room.appId],
      ['RoomId', room.roomId],
    ];
    const { parsed, attempts } = await this.#call(query, GenericResponseSchema, options);
    return { ...readResultWithoutTaskId(parsed.Result), requestId: parsed.ResponseMetadata.RequestId, attempts };
  }

  async #call<S extends z.ZodType<{ ResponseMetadata: { RequestId?: string | undefined } }>>(
    query: Array<[string, string]>,
    schema: S,
    options: CallOptions,
  ): Promise<{ parsed: z.infer<S>; attempts: number }> {
    const deadline = performance.now() + options.timeoutMs;
    const remaining = () => deadline - performance.now();
    const { retry } = this.#options;
    // The query is signed and sent in its canonical form, so the bytes signed are the bytes sent.
    const canonicalQuery = canonicalQueryString(query);
    // One timer per call settles `expired` when the call's time is up, and so does the caller's signal (its
    // invocation's deadline, past that time when part of it is kept for other work); every wait and attempt
    // races it, and undici's own timeouts end a request left behind. `gaveUp` tells the limiter: a caller
    // still waiting for a slot leaves its queue then, and no slot is written in the quota table for it.
    let expire: (error: VolcError) => void = () => undefined;
    const expired = new Promise<never>((_, reject) => {
      expire = reject;
    });
    expired.catch(() => undefined);
    const gaveUp = new AbortController();
    const late = () => {
      expire(new VolcDeadlineError());
      gaveUp.abort();
    };
    const timer = setTimeout(late, Math.max(1, Math.ceil(options.timeoutMs)));
    options.signal?.addEventListener('abort', late, { once: true });
    let lastError: VolcError | undefined;
    try {
      for (let attempt = 1; attempt <= retry.maxAttempts; attempt++) {
        const backoff = attempt === 1 ? 0 : this.#random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 2));
        if (backoff > 0 && backoff >= remaining()) break;
        let sent: InFlight;
        try {
          if (backoff > 0) await Promise.race([sleep(backoff), expired]);
          // Credentials first (SSM on a cold start), so that fetching them never makes a call late for its slot.
          const credentials = await Promise.race([this.#credentials(), expired]);
          sent = await this.#sendInSlot(canonicalQuery, credentials, remaining, options.priority, gaveUp.signal, expired);
        } catch (error) {
          if (error instanceof VolcBudgetExhaustedError && lastError) break;
          throw this.#failure(error, lastError);
        }
        try {
          const { status, text } = await Promise.race([sent.answer, expired]);
          return { parsed: this.#read(status, text, schema), attempts: attempt };
        } catch (error) {
          const volcError = this.#failure(error, lastError);
          if (!volcError.retryable) throw volcError;
          lastError = volcError;
        }
      }
      // Unreached with one attempt or more (the first waits for nothing): every attempt made sets lastError.
      throw lastError ?? new VolcDeadlineError();
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', late);
    }
  }

  async #credentials(): Promise<VolcCredentials> {
    const { credentials } = this.#options;
    if (typeof credentials !== 'function') return credentials;
    try {
      return await credentials();
    } catch (error) {
      throw new VolcCredentialsError(error);
    }
  }

  /**
   * Takes a slot, waits for it, signs and sends: late is never sent. Right before the request
   * leaves, a call more than the limiter's late allowance after its slot gives the slot up
   * (counted) and takes a new one, so calls never bunch behind a busy event loop. A slot is also
   * later by however far the limiter's clock moved forward while the call waited.
   */
  async #sendInSlot(
    canonicalQuery: string,
    credentials: VolcCredentials,
    remaining: () => number,
    priority: number | undefined,
    signal: AbortSignal,
    expired: Promise<never>,
  ): Promise<InFlight> {
    const { limiter } = this.#options;
    for (;;) {
      const wait = await Promise.race([limiter.reserve(Math.max(0, remaining() - 1), priority, signal), expired]);
      const slotAt = performance.now() + wait;
      const shift = limiter.clockShiftMs?.() ?? 0;
      await Promise.race([sleepUntil(slotAt), expired]);
      const headers = this.#sign(canonicalQuery, credentials);
      const late = performance.now() - slotAt + (limiter.clockShiftMs?.() ?? 0) - shift;
      if (late <= limiter.lateAllowanceMs) return { answer: this.#send(canonicalQuery, headers, remaining()) };
      limiter.missed?.();
    }
  }

  #sign(canonicalQuery: string, credentials: VolcCredentials): Record<string, string> {
    const signed = signWithCanonicalQuery(
      {
        ...credentials,
        region: this.#options.region,
        service: this.#options.service,
        method: 'GET',
        path: '/',
        headers: {},
        body: '',
        date: this.#now(),
      },
      canonicalQuery,
      this.#keyCache,
    );
    return signed.headers;
  }

  async #send(canonicalQuery: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status: number; text: string }> {
    try {
      const response = await request(this.#options.dispatcher ?? sharedDispatcher(), {
        origin: this.#origin,
        path: `/?${canonicalQuery}`,
        method: 'GET',
        headers,
        body: null,
        // Per-request timeouts instead of an AbortSignal: the same bound, without the cost of an abort listener per call.
        headersTimeout: Math.max(1, Math.ceil(timeoutMs)),
        bodyTimeout: Math.max(1, Math.ceil(timeoutMs)),
      });
      return { status: response.statusCode, text: await response.body.text() };
    } catch (error) {
      const code = describeNetworkError(error);
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') throw new VolcDeadlineError(DEADLINE_PASSED, {}, error);
      throw new VolcTransportError(`the connection to Volcengine failed (${code})`, error);
    }
  }

  #read<S extends z.ZodType>(status: number, text: string, schema: S): z.infer<S> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      if (status !== 200) throw new VolcApiError(`Volcengine answered HTTP ${status} without a JSON body`, { httpStatus: status });
      throw new VolcMalformedResponseError('Volcengine answered with a body that is not JSON', { httpStatus: status }, error);
    }
    // The success path parses once, with the action's own schema; the envelope of a failure is read separately.
    const hasError = (json as { ResponseMetadata?: { Error?: unknown } } | null)?.ResponseMetadata?.Error != null;
    if (status !== 200 || hasError) {
      const metadata = GenericResponseSchema.safeParse(json);
      const upstreamError = metadata.success ? metadata.data.ResponseMetadata.Error : undefined;
      const requestId = metadata.success ? metadata.data.ResponseMetadata.RequestId : undefined;
      const code = upstreamError?.Code;
      throw new VolcApiError(
        `Volcengine answered HTTP ${status}${code ? ` with ${code}` : ''}${upstreamError?.Message ? `: ${upstreamError.Message}` : ''}`,
        { code, requestId, httpStatus: status },
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const requestId = (json as { ResponseMetadata?: { RequestId?: unknown } } | null)?.ResponseMetadata?.RequestId;
      const fields = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
      throw new VolcMalformedResponseError(
        `Volcengine's answer does not have the documented shape (${fields})`,
        { requestId: typeof requestId === 'string' ? requestId : undefined, httpStatus: status },
        parsed.error,
      );
    }
    return parsed.data;
  }

  #failure(error: unknown, lastError: VolcError | undefined): VolcError {
    if (error instanceof VolcDeadlineError && lastError && !error.upstream.code)
      return new VolcDeadlineError(error.message, lastError.upstream, error);
    if (error instanceof VolcError) return error;
    return new VolcTransportError(`unexpected failure calling Volcengine (${describeNetworkError(error)})`, error);
  }
}

function describeNetworkError(error: unknown): string {
  if (error && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'unknown error';
}
