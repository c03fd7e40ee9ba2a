/**
 * Volcengine RTC OpenAPI emulator for tests and the local stack: a real HTTP server on 127.0.0.1
 * that answers StartSegment, UpdateSegment, StopSegment and GetSegmentTask (2022-06-01 and
 * 2023-11-01) the way the service is documented to, including its error envelope.
 *
 * - every request's signature is recomputed with the official SDK's Signer (oracle.ts);
 * - X-Date further than 15 minutes from the emulator's clock is InvalidTimestamp;
 * - QPS is enforced strictly per access key and action over a sliding second of real time;
 * - GetSegmentTask only sees tasks whose StartTime is within 72 hours of the (injectable) clock;
 * - GetSegmentTask without TaskId (optional in Volcengine's docs, its answer unconfirmed) answers in
 *   the form a test chooses (`withoutTaskId`): an error, the room's newest task, a list, or no task;
 * - tasks stop by StopSegment (StopByAPI), by MaxIdleTime after their streams go idle
 *   (IdleTimeOut), or, for auto segmentation, when the user leaves (UserDisconnect);
 * - fault modes: latency, 5xx, connection reset, malformed / truncated JSON, missing and extra fields;
 * - it sends signed SegmentRealTimeData callbacks for the tasks it runs (EventData's fields are
 *   not publicly confirmed; the emulator's are an assumption: RoomId, TaskId, UserId, FileName, …).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { constantTimeEqual, sdkAuthorization, type OracleCredentials } from './oracle.ts';
import { callbackSignature } from '../../lib/callback/signature.ts';

export const WINDOW_MS = 72 * 3_600_000;
const AUTHORIZATION = new RegExp(
  '^HMAC-SHA256 Credential=([^/,\\s]+)/(\\d{8})/([^/,\\s]+)/([^/,\\s]+)/request, ' +
    'SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$',
);
export const MAX_SKEW_MS = 15 * 60_000;
const ID_PATTERN = /^[a-zA-Z0-9_@.-]{1,128}$/;
const ACTIONS: Record<string, { method: 'GET' | 'POST'; versions: string[]; qps: number }> = {
  StartSegment: { method: 'POST', versions: ['2020-12-01', '2022-06-01', '2023-11-01'], qps: 60 },
  UpdateSegment: { method: 'POST', versions: ['2020-12-01', '2022-06-01', '2023-11-01'], qps: 150 },
  StopSegment: { method: 'POST', versions: ['2020-12-01', '2022-06-01', '2023-11-01'], qps: 150 },
  GetSegmentTask: { method: 'GET', versions: ['2022-06-01', '2023-11-01'], qps: 60 },
};
const GATEWAY_CODE_N: Record<string, number> = {
  MissingParameter: 100002,
  MissingAuthenticationToken: 100003,
  MissingRequestInfo: 100004,
  MissingSignature: 100005,
  InvalidTimestamp: 100006,
  ServiceNotFound: 100007,
  InvalidActionOrVersion: 100008,
  InvalidAccessKey: 100009,
  SignatureDoesNotMatch: 100010,
  InternalError: 100014,
};

export type FaultKind =
  | 'latency'
  | 'http5xx'
  | 'reset'
  | 'malformed-json'
  | 'truncated-json'
  | 'missing-fields'
  | 'extra-fields'
  | 'html-502'
  /** HTTP 200 that still carries ResponseMetadata.Error (documented for 2020-12-01). */
  | 'error-200'
  /** FlowLimitExceeded.QPSOverLimit regardless of the actual rate. */
  | 'throttle';

export interface Fault {
  kind: FaultKind;
  /** How many requests it applies to; Infinity until cleared. */
  times?: number;
  latencyMs?: number;
  status?: number;
  /** Only requests of this action. */
  action?: string;
}

export interface EmulatedTask {
  appId: string;
  roomId: string;
  taskId: string;
  startTime: number;
  endTime: number;
  status: number;
  stopReason: string;
  maxIdleTime: number;
  duration: number;
  identifier: string;
  handle: boolean;
  targetStreams: { StreamList: Array<Record<string, unknown>> };
  storageConfig: Record<string, unknown>;
  control: Record<string, unknown>;
  businessId?: string;
  /** When every subscribed stream stopped publishing; the task ends MaxIdleTime later. */
  idleSince?: number;
  auto: boolean;
  /** What GetSegmentTask reports as StartTime, when it differs from startTime (schema drift, e.g. seconds). */
  reportedStartTime?: number;
}

export interface ReceivedRequest {
  action: string;
  status: number;
  code?: string;
  at: number;
  query: Record<string, string>;
}

/**
 * How GetSegmentTask answers without a TaskId (unconfirmed upstream): 400 InvalidParameter (the
 * default) or MissingParameter, the room's most recent task in the usual `SegmentTask` form, every
 * task of the room in an unknown shape (`SegmentTasks`), or a Result without a task (`{}` or null).
 */
export type WithoutTaskIdStyle = 'invalid-parameter' | 'missing-parameter' | 'newest-task' | 'task-list' | 'empty' | 'null';

export interface EmulatorOptions {
  credentials: OracleCredentials[];
  now?: () => number;
  /** How an unknown or expired task is reported (unconfirmed upstream): an error or an empty Result. */
  notFoundStyle?: 'error' | 'empty';
  withoutTaskId?: WithoutTaskIdStyle;
  qpsLimits?: Partial<Record<string, number>>;
  /** Echo StorageConfig access keys back in GetSegmentTask (the upstream form is unconfirmed). */
  echoStorageSecrets?: boolean;
  /** AppIds of another account: GetSegmentTask answers 400 InvalidParameter.AccountIdMismatch ("Check owner failed"). */
  foreignAppIds?: string[];
  region?: string;
}

interface Envelope {
  status: number;
  body: unknown;
}

export class VolcEmulator {
  readonly tasks = new Map<string, EmulatedTask>();
  readonly received: ReceivedRequest[] = [];
  readonly #faults: Fault[] = [];
  readonly #recent = new Map<string, number[]>();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #credentials: Map<string, OracleCredentials>;
  readonly #options: EmulatorOptions;
  now: () => number;
  notFoundStyle: 'error' | 'empty';
  withoutTaskId: WithoutTaskIdStyle;
  #url = '';

  constructor(options: EmulatorOptions) {
    this.#options = options;
    this.#credentials = new Map(options.credentials.map((c) => [c.accessKeyId, c]));
    this.now = options.now ?? Date.now;
    this.notFoundStyle = options.notFoundStyle ?? 'error';
    this.withoutTaskId = options.withoutTaskId ?? 'invalid-parameter';
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.#url;
  }

  get url(): string {
    return this.#url;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  inject(fault: Fault): void {
    this.#faults.push({ times: Number.POSITIVE_INFINITY, ...fault });
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  callsOf(action: string): ReceivedRequest[] {
    return this.received.filter((r) => r.action === action);
  }

  /** Puts a task straight into the store, as if it had been started (by API or by the console). */
  seedTask(task: Partial<EmulatedTask> & Pick<EmulatedTask, 'appId' | 'roomId' | 'taskId'>): EmulatedTask {
    const full: EmulatedTask = {
      startTime: this.now(),
      endTime: 0,
      status: 2,
      stopReason: '',
      maxIdleTime: 180,
      duration: 20,
      identifier: `${task.roomId}-${task.taskId}`,
      handle: true,
      targetStreams: { StreamList: [] },
      storageConfig: { Type: 0, TosConfig: { AccountId: '2100000000', Region: 0, Bucket: 'rtc-audio' } },
      control: { Align: false, Mixed: false, IgnoreSilence: false, RedundantDuration: 0 },
      auto: false,
      ...task,
    };
    this.tasks.set(taskKey(full.appId, full.roomId, full.taskId), full);
    return full;
  }

  /** Every subscribed stream stops publishing now; the task ends MaxIdleTime later. */
  streamsGoIdle(appId: string, roomId: string, taskId: string, at = this.now()): void {
    const task = this.#task(appId, roomId, taskId);
    if (task) task.idleSince = at;
  }

  /** Auto segmentation: the user leaves the room, which ends their task. */
  userLeaves(appId: string, roomId: string, userId: string): void {
    const task = this.#task(appId, roomId, userId);
    if (task && task.status === 2) this.#finish(task, 'UserDisconnect', this.now());
  }

  failTask(appId: string, roomId: string, taskId: string): void {
    const task = this.#task(appId, roomId, taskId);
    if (task) {
      task.status = 4;
      task.stopReason = 'StartTaskFailed';
      task.endTime = this.now();
    }
  }

  /** A signed SegmentRealTimeData callback for one produced segment of `task`. */
  segmentEvent(
    task: EmulatedTask,
    secretKey: string,
    options: { sequence?: number; eventTime?: number; userId?: string } = {},
  ): Record<string, string> {
    const sequence = options.sequence ?? 0;
    const userId = options.userId ?? (task.auto ? task.taskId : 'alice');
    const data = {
      AppId: task.appId,
      BusinessId: task.businessId ?? '',
      RoomId: task.roomId,
      ...(task.auto ? {} : { TaskId: task.taskId }),
      UserId: userId,
      StreamType: 0,
      FileName: `${task.identifier}${userId}${task.startTime + sequence * task.duration * 1000}_${sequence}.wav`,
      SegmentStartTime: task.startTime + sequence * task.duration * 1000,
      Duration: task.duration,
      Sequence: sequence,
    };
    const event = {
      EventType: 'SegmentRealTimeData',
      EventData: JSON.stringify(data),
      EventTime: new Date(options.eventTime ?? this.now()).toISOString(),
      EventId: randomBytes(16).toString('hex'),
      AppId: task.appId,
      Version: '2020-12-01',
      Nonce: randomBytes(2).toString('hex'),
    };
    return { ...event, Signature: callbackSignature(event, secretKey) };
  }

  /** Posts one callback per running task to `url`, as Volcengine does for every produced segment. */
  async sendSegmentEvents(url: string, secrets: Record<string, string>, sequence = 0): Promise<number[]> {
    const statuses: number[] = [];
    for (const task of this.tasks.values()) {
      this.#advanceLifecycle(task);
      const secret = secrets[task.appId];
      if (task.status !== 2 || !secret) continue;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(this.segmentEvent(task, secret, { sequence })),
      });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    return statuses;
  }

  #task(appId: string, roomId: string, taskId: string): EmulatedTask | undefined {
    const task = this.tasks.get(taskKey(appId, roomId, taskId));
    if (task) this.#advanceLifecycle(task);
    return task;
  }

  #advanceLifecycle(task: EmulatedTask): void {
    if (task.status === 2 && task.idleSince !== undefined) {
      const idleEnd = task.idleSince + task.maxIdleTime * 1000;
      if (this.now() >= idleEnd) this.#finish(task, 'IdleTimeOut', idleEnd);
    }
  }

  #finish(task: EmulatedTask, reason: string, at: number): void {
    task.status = 3;
    task.stopReason = reason;
    task.endTime = at;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://emulator');
    const pairs = [...url.searchParams.entries()];
    const query = Object.fromEntries(pairs);
    const action = query.Action ?? '';
    const version = query.Version ?? '';

    const fault = this.#takeFault(action);
    if (fault?.kind === 'latency') await new Promise((r) => setTimeout(r, fault.latencyMs ?? 1000));
    if (fault?.kind === 'reset') {
      this.received.push({ action, status: 0, code: 'reset', at: this.now(), query });
      req.socket.destroy();
      return;
    }

    let answer = this.#authenticate(req, url.pathname, pairs, body, action, version);
    if (!answer && fault?.kind === 'throttle') {
      answer = this.#error(429, 'FlowLimitExceeded.QPSOverLimit', 'The request rate exceeds the limit.', action, version);
    }
    if (!answer && fault?.kind === 'http5xx') {
      answer = this.#error(fault.status ?? 500, 'InternalError', 'An internal error occurred; please retry.', action, version);
    }
    answer ??= this.#dispatch(req.method ?? 'GET', action, version, query, body);

    const errorCode = (answer.body as { ResponseMetadata?: { Error?: { Code?: string } } }).ResponseMetadata?.Error?.Code;
    this.received.push({ action, status: answer.status, ...(errorCode ? { code: errorCode } : {}), at: this.now(), query });
    this.#send(res, answer, fault);
  }

  #takeFault(action: string): Fault | undefined {
    const index = this.#faults.findIndex((f) => !f.action || f.action === action);
    if (index < 0) return undefined;
    const fault = this.#faults[index]!;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.#faults.splice(index, 1);
    return fault;
  }

  #send(res: ServerResponse, answer: Envelope, fault: Fault | undefined): void {
    let text = JSON.stringify(answer.body);
    let status = answer.status;
    let contentType = 'application/json; charset=utf-8';
    if (fault?.kind === 'html-502') {
      status = fault.status ?? 502;
      contentType = 'text/html';
      text = '<html><body><h1>502 Bad Gateway</h1></body></html>';
    } else if (answer.status === 200) {
      switch (fault?.kind) {
        case 'malformed-json':
          text = `{"ResponseMetadata": {"RequestId": "${requestId()}", "Action": ,}`;
          break;
        case 'truncated-json':
          text = text.slice(0, Math.floor(text.length / 2));
          break;
        case 'missing-fields': {
          const body = answer.body as { Result?: { SegmentTask?: Record<string, unknown> } };
          const task = body.Result?.SegmentTask;
          if (task) body.Result!.SegmentTask = { Status: task.Status };
          text = JSON.stringify(body);
          break;
        }
        case 'extra-fields': {
          const body = answer.body as { Result?: { SegmentTask?: Record<string, unknown> } } & Record<string, unknown>;
          body.Unexpected = { Nested: [1, 2, 3] };
          if (body.Result?.SegmentTask) body.Result.SegmentTask.FutureField = 'added-by-a-later-api-version';
          text = JSON.stringify(body);
          break;
        }
        case 'error-200': {
          const body = answer.body as { ResponseMetadata: Record<string, unknown>; Result?: unknown };
          body.ResponseMetadata.Error = { CodeN: 100014, Code: 'InternalError', Message: 'An internal error occurred.' };
          delete body.Result;
          text = JSON.stringify(body);
          break;
        }
        default:
      }
    }
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  #authenticate(
    req: IncomingMessage,
    path: string,
    pairs: Array<[string, string]>,
    body: string,
    action: string,
    version: string,
  ): Envelope | undefined {
    const fail = (status: number, code: string, message: string) => this.#error(status, code, message, action, version);
    if (!action || !version) return fail(400, 'MissingParameter', 'Action and Version are required.');
    const authorization = req.headers.authorization;
    if (!authorization) return fail(401, 'MissingAuthenticationToken', 'The request has no authentication information.');
    const match = AUTHORIZATION.exec(authorization);
    if (!match) return fail(400, 'InvalidAuthorization', 'The Authorization header is malformed.');
    const [, accessKeyId, shortDate, region, service, signedHeaderList, signature] = match as unknown as string[];
    const credentials = this.#credentials.get(accessKeyId!);
    if (!credentials) return fail(401, 'InvalidAccessKey', 'The access key is not valid.');
    if (service !== 'rtc') return fail(404, 'ServiceNotFound', `The service ${service} does not exist.`);
    const xDate = req.headers['x-date'];
    const signedHeaders = signedHeaderList!.split(';');
    if (typeof xDate !== 'string' || !signedHeaders.includes('x-date'))
      return fail(400, 'MissingRequestInfo', 'X-Date is missing or not signed.');
    const dateMatch = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(xDate);
    if (!dateMatch || !xDate.startsWith(shortDate!))
      return fail(400, 'InvalidTimestamp', 'X-Date is not a UTC timestamp of the form YYYYMMDDTHHMMSSZ.');
    const signedAt = Date.UTC(+dateMatch[1]!, +dateMatch[2]! - 1, +dateMatch[3]!, +dateMatch[4]!, +dateMatch[5]!, +dateMatch[6]!);
    if (Math.abs(signedAt - this.now()) > MAX_SKEW_MS)
      return fail(400, 'InvalidTimestamp', 'The request X-Date is expired or in the future; check the UTC clock.');
    const token = req.headers['x-security-token'];
    if (credentials.sessionToken && token !== credentials.sessionToken)
      return fail(401, 'InvalidAccessKey', 'The security token is missing or not valid.');
    const declaredBodyHash = req.headers['x-content-sha256'];
    if (typeof declaredBodyHash === 'string' && declaredBodyHash !== createHash('sha256').update(body).digest('hex')) {
      return fail(401, 'SignatureDoesNotMatch', 'X-Content-Sha256 does not match the request body.');
    }
    const expected = sdkAuthorization(
      { method: req.method ?? 'GET', path, query: pairs, headers: req.headers, body },
      signedHeaders,
      { ...credentials, sessionToken: typeof token === 'string' ? token : undefined },
      region!,
      service!,
      new Date(signedAt),
    );
    const expectedSignature = expected.slice(expected.lastIndexOf('Signature=') + 'Signature='.length);
    const expectedHeaders = /SignedHeaders=([^,]+)/.exec(expected)![1]!;
    if (
      expectedHeaders !== signedHeaderList ||
      !constantTimeEqual(expectedSignature, signature!) ||
      region !== (this.#options.region ?? 'cn-north-1')
    ) {
      return fail(401, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    }
    return this.#throttle(accessKeyId!, action, version);
  }

  #throttle(accessKeyId: string, action: string, version: string): Envelope | undefined {
    const limit = this.#options.qpsLimits?.[action] ?? ACTIONS[action]?.qps ?? 60;
    const key = `${accessKeyId}\n${action}`;
    const now = performance.now();
    const recent = (this.#recent.get(key) ?? []).filter((t) => now - t < 1000);
    if (recent.length >= limit) {
      this.#recent.set(key, recent);
      return this.#error(429, 'FlowLimitExceeded.QPSOverLimit', `The request rate exceeds ${limit} per second.`, action, version);
    }
    recent.push(now);
    this.#recent.set(key, recent);
    return undefined;
  }

  #dispatch(method: string, action: string, version: string, query: Record<string, string>, body: string): Envelope {
    const spec = ACTIONS[action];
    if (!spec?.versions.includes(version)) {
      return this.#error(404, 'InvalidActionOrVersion', `The action ${action} is not available in version ${version}.`, action, version);
    }
    if (method !== spec.method)
      return this.#error(400, 'InvalidParameter', `${action} must be called with ${spec.method}.`, action, version);
    let params: Record<string, unknown> = query;
    if (spec.method === 'POST') {
      if (!body) return this.#error(400, 'InvalidParameter.BodyIsEmpty', 'The request body is empty.', action, version);
      try {
        params = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return this.#error(400, 'InvalidParameter.Unmarshal', 'The request body is not valid JSON.', action, version);
      }
    }
    if (action === 'GetSegmentTask' && params.TaskId === undefined && typeof params.AppId === 'string' && params.AppId !== '') {
      const roomId = params.RoomId;
      if (typeof roomId === 'string' && ID_PATTERN.test(roomId)) return this.#getWithoutTaskId(params.AppId, roomId, version);
    }
    for (const name of ['AppId', 'RoomId', 'TaskId']) {
      const value = params[name];
      if (typeof value !== 'string' || value === '') return this.#error(400, 'InvalidParameter', `${name} is required.`, action, version);
      if (name !== 'AppId' && !ID_PATTERN.test(value))
        return this.#error(
          400,
          `InvalidParameter.Illegal${name === 'RoomId' ? 'RoomID' : 'TaskId'}`,
          `${name} is invalid.`,
          action,
          version,
        );
    }
    const appId = params.AppId as string;
    const roomId = params.RoomId as string;
    const taskId = params.TaskId as string;
    switch (action) {
      case 'GetSegmentTask':
        return this.#get(appId, roomId, taskId, version);
      case 'StartSegment':
        return this.#start(params, version);
      case 'UpdateSegment':
        return this.#update(params, version);
      default:
        return this.#stopTask(appId, roomId, taskId, version);
    }
  }

  #get(appId: string, roomId: string, taskId: string, version: string): Envelope {
    if (this.#options.foreignAppIds?.includes(appId))
      return this.#error(400, 'InvalidParameter.AccountIdMismatch', 'Check owner failed.', 'GetSegmentTask', version);
    const task = this.#task(appId, roomId, taskId);
    if (!task || this.now() - task.startTime > WINDOW_MS) return this.#noTask(version);
    return this.#ok('GetSegmentTask', version, { SegmentTask: this.#shown(task) });
  }

  #noTask(version: string): Envelope {
    if (this.notFoundStyle === 'empty') return this.#ok('GetSegmentTask', version, {});
    return this.#taskNotFound('GetSegmentTask', version);
  }

  /** GetSegmentTask without TaskId, in the form `withoutTaskId` chooses. */
  #getWithoutTaskId(appId: string, roomId: string, version: string): Envelope {
    if (this.#options.foreignAppIds?.includes(appId))
      return this.#error(400, 'InvalidParameter.AccountIdMismatch', 'Check owner failed.', 'GetSegmentTask', version);
    const inRoom = [...this.tasks.values()]
      .filter((t) => t.appId === appId && t.roomId === roomId && this.now() - t.startTime <= WINDOW_MS)
      .sort((a, b) => b.startTime - a.startTime);
    for (const task of inRoom) this.#advanceLifecycle(task);
    switch (this.withoutTaskId) {
      case 'invalid-parameter':
        return this.#error(400, 'InvalidParameter', 'TaskId is required.', 'GetSegmentTask', version);
      case 'missing-parameter':
        return this.#error(400, 'MissingParameter', 'The required parameter TaskId is missing.', 'GetSegmentTask', version);
      case 'newest-task':
        return inRoom[0] ? this.#ok('GetSegmentTask', version, { SegmentTask: this.#shown(inRoom[0]) }) : this.#noTask(version);
      case 'task-list':
        return this.#ok('GetSegmentTask', version, {
          SegmentTasks: inRoom.map((task) => ({ TaskId: task.taskId, ...this.#shown(task) })),
        });
      case 'empty':
        return this.#ok('GetSegmentTask', version, {});
      default:
        return this.#ok('GetSegmentTask', version, null);
    }
  }

  /** A task as GetSegmentTask shows it. */
  #shown(task: EmulatedTask): Record<string, unknown> {
    const storage = this.#options.echoStorageSecrets ? task.storageConfig : withoutStorageKeys(task.storageConfig);
    return {
      StartTime: task.reportedStartTime ?? task.startTime,
      EndTime: task.endTime,
      Status: task.status,
      StopReason: task.stopReason,
      MaxIdleTime: task.maxIdleTime,
      TargetStreams: task.targetStreams,
      Duration: task.duration,
      StorageConfig: storage,
      Control: task.control,
      Identifier: task.identifier,
      Handle: task.handle,
    };
  }

  #start(params: Record<string, unknown>, version: string): Envelope {
    const existing = this.#task(params.AppId as string, params.RoomId as string, params.TaskId as string);
    if (existing && existing.status === 2) {
      return this.#ok('StartSegment', version, 'The task has been started. Please do not call the startup task interface repeatedly');
    }
    const maxIdleTime = params.MaxIdleTime === undefined ? 180 : Number(params.MaxIdleTime);
    const duration = params.Duration === undefined ? 20 : Number(params.Duration);
    if (!Number.isInteger(maxIdleTime) || maxIdleTime < 1 || maxIdleTime > 86_400)
      return this.#error(400, 'InvalidParameter', 'MaxIdleTime must be 1-86400.', 'StartSegment', version);
    if (!Number.isInteger(duration) || duration < 1 || duration > 600)
      return this.#error(400, 'InvalidParameter', 'Duration must be 1-600.', 'StartSegment', version);
    if (version !== '2020-12-01' && (params.StorageConfig === undefined || typeof params.StorageConfig !== 'object')) {
      return this.#error(400, 'InvalidParameter', 'StorageConfig is required.', 'StartSegment', version);
    }
    this.seedTask({
      appId: params.AppId as string,
      roomId: params.RoomId as string,
      taskId: params.TaskId as string,
      startTime: this.now(),
      maxIdleTime,
      duration,
      identifier: typeof params.Identifier === 'string' ? params.Identifier : randomBytes(16).toString('hex'),
      handle: params.Handle === undefined ? true : Boolean(params.Handle),
      targetStreams: (params.TargetStreams as EmulatedTask['targetStreams']) ?? { StreamList: [] },
      storageConfig: (params.StorageConfig as Record<string, unknown>) ?? {},
      control: (params.Control as Record<string, unknown>) ?? {},
      ...(typeof params.BusinessId === 'string' ? { businessId: params.BusinessId } : {}),
    });
    return this.#ok('StartSegment', version, 'ok');
  }

  #update(params: Record<string, unknown>, version: string): Envelope {
    const task = this.#task(params.AppId as string, params.RoomId as string, params.TaskId as string);
    if (task?.status !== 2) return this.#taskNotFound('UpdateSegment', version);
    if (typeof params.Identifier === 'string') task.identifier = params.Identifier;
    if (typeof params.Handle === 'boolean') task.handle = params.Handle;
    if (typeof params.Duration === 'number') task.duration = params.Duration;
    return this.#ok('UpdateSegment', version, 'ok');
  }

  #stopTask(appId: string, roomId: string, taskId: string, version: string): Envelope {
    const task = this.#task(appId, roomId, taskId);
    if (task?.status !== 2) return this.#taskNotFound('StopSegment', version);
    this.#finish(task, 'StopByAPI', this.now());
    return this.#ok('StopSegment', version, 'ok');
  }

  #taskNotFound(action: string, version: string): Envelope {
    return this.#error(400, 'InvalidParameter.ErrorActiveTaskNotFound', 'The task does not exist or has stopped.', action, version);
  }

  #metadata(action: string, version: string) {
    return { RequestId: requestId(), Action: action, Version: version, Service: 'rtc', Region: this.#options.region ?? 'cn-north-1' };
  }

  #ok(action: string, version: string, result: unknown): Envelope {
    return { status: 200, body: { ResponseMetadata: this.#metadata(action, version), Result: result } };
  }

  #error(status: number, code: string, message: string, action: string, version: string): Envelope {
    const codeN = GATEWAY_CODE_N[code];
    return {
      status,
      body: {
        ResponseMetadata: {
          ...this.#metadata(action, version),
          Error: { ...(codeN ? { CodeN: codeN } : {}), Code: code, Message: message },
        },
      },
    };
  }
}

function taskKey(appId: string, roomId: string, taskId: string): string {
  return `${appId}\n${roomId}\n${taskId}`;
}

function withoutStorageKeys(config: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(config);
  const custom = copy.CustomConfig as Record<string, unknown> | undefined;
  if (custom) {
    delete custom.AccessKey;
    delete custom.SecretKey;
  }
  return copy;
}

function requestId(): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${stamp}${randomBytes(8).toString('hex').toUpperCase()}`;
}
