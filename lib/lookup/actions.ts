/**
 * The lookup's actions and the handler that serves them, in the order a request meets them:
 *
 * - the request: a GET naming a served Action and a supported Version, and its query, read by the
 *   action's zod schema (GetSegmentTask takes the same query a Volcengine client sends);
 * - the actions, one declaration each (LOOKUP_ACTIONS): its name, the query it reads, the Result
 *   it answers, whether it needs the archive, and the function that runs it. The handler below,
 *   the OpenAPI document (lib/openapi.ts) and the test that checks real answers against each
 *   Result schema (test/functions/lookup-results.test.ts) all read this list: adding an action is
 *   one declaration and its function;
 * - createLookupHandler: the actions this deployment serves, read and dispatched in the HTTP
 *   pipeline every function shares (lib/http/http-function.ts), each run within the invocation's
 *   one deadline.
 *
 * The answers themselves come from segment-task-lookup.ts; build.ts composes the function.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import {
  AppError,
  ArchiveUnavailableError,
  InvalidActionOrVersionError,
  InvalidParameterError,
  MethodNotAllowedError,
  MissingParameterError,
  TaskNotFoundError,
  isThrottle,
} from '../errors.ts';
import { invocationDeadline, type Deadline } from '../deadline.ts';
import {
  httpFunction,
  parseQuery,
  printable,
  requireParameter,
  type HttpAnswer,
  type HttpApiEvent,
  type QueryParameters,
} from '../http/http-function.ts';
import { LOOKUP_METRICS, publishMetric } from '../metrics.ts';
import type { QuotaStats } from '../quota/fleet-limiter.ts';
import { addQuotaMetrics } from '../quota/metrics.ts';
import {
  SegmentTaskSchema,
  SUPPORTED_VERSIONS,
  VOLC_ID_PATTERN,
  type ApiVersion,
  startTimeProblem,
  type TaskAddress,
} from '../volc/schemas.ts';
import { SnapshotFileSchema, type SnapshotFile } from '../archive/schemas.ts';
import type { SegmentTaskLookup } from './segment-task-lookup.ts';

// ---- The request ----

/** A request read: the Action it names (one this deployment serves), its Version, and its query's parameters. */
interface LookupRequest {
  action: string;
  version: ApiVersion;
  parameters: QueryParameters;
}

/** A GET with no body, naming one of `actions` (listed in errors in their order) and a supported Version. */
function readLookupRequest(event: HttpApiEvent, actions: readonly string[]): LookupRequest {
  const method = event.requestContext.http.method.toUpperCase();
  if (method !== 'GET') {
    throw new MethodNotAllowedError(printable(method), 'GET');
  }
  if (event.body) throw new InvalidParameterError('body', 'a GET request must not carry one');
  const parameters = parseQuery(event.rawQueryString);
  const action = requireParameter(parameters, 'Action');
  const version = requireParameter(parameters, 'Version');
  if (!actions.includes(action)) {
    throw new InvalidActionOrVersionError(`The Action ${printable(action)} is not supported; use one of ${actions.join(', ')}.`);
  }
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new InvalidActionOrVersionError(
      `The Version ${printable(version)} is not supported for ${action}; use ${SUPPORTED_VERSIONS.join(' or ')}.`,
    );
  }
  return { action, version: version as ApiVersion, parameters };
}

/**
 * Reads the parameters `schema` names, in the order it names them; the first problem becomes a
 * MissingParameter (absent or empty) or InvalidParameter error naming the parameter.
 */
function readQuery<S extends z.ZodObject>(schema: S, parameters: QueryParameters): z.infer<S> {
  const names = Object.keys(schema.shape);
  const values: Record<string, string> = {};
  for (const name of names) {
    const value = parameters.get(name);
    if (value !== undefined && value !== '') values[name] = value;
  }
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = [...parsed.error.issues].sort((a, b) => names.indexOf(String(a.path[0])) - names.indexOf(String(b.path[0])))[0]!;
  const name = String(issue.path[0]);
  if (values[name] === undefined) throw new MissingParameterError(name);
  throw new InvalidParameterError(name, issue.message);
}

// ---- The queries ----

const ID_RULE = 'it must be 1 to 128 characters of letters, digits, "_", "@", "-" or "."';

/** AppId, RoomId, TaskId (or UserId for auto segmentation). @example "room1-audit@corp" */
const IdSchema = z.string().regex(VOLC_ID_PATTERN, ID_RULE);
const WholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, 'it must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `it must be between ${min} and ${max}`).max(max, `it must be between ${min} and ${max}`));

/** A run's StartTime, epoch milliseconds (2020-01-01 to now + 1 day, checked against the clock when read). @example "1795593600000" */
const StartTimeSchema = WholeNumber(0, Number.MAX_SAFE_INTEGER);

/**
 * A task, and optionally one run of it by its StartTime (epoch ms); without StartTime, the current
 * (or newest archived) run. The queries below extend it.
 * @example { "AppId": "661e3b4c9a5f7d0012a543cf", "RoomId": "Room1", "TaskId": "Task1", "StartTime": "1795593600000" }
 */
const TaskQuerySchema = z.object({ AppId: IdSchema, RoomId: IdSchema, TaskId: IdSchema, StartTime: StartTimeSchema.optional() });

/**
 * Query of GetSegmentTask: a task (TaskId is optional, as in Volcengine's own docs: without it the
 * request is passed to Volcengine as sent and its answer returned, whatever it is; StartTime then
 * cannot be given), and optionally one run of it by its StartTime (epoch ms).
 * @example { "AppId": "661e3b4c9a5f7d0012a543cf", "RoomId": "Room1", "TaskId": "Task1" }
 */
const GetQuerySchema = TaskQuerySchema.extend({ TaskId: IdSchema.optional() });

/**
 * Query of WatchSegmentTask: StartTime (epoch ms) when known gives the run its deadline; one
 * announced ahead is waited for.
 * @example { "AppId": "661e3b4c9a5f7d0012a543cf", "RoomId": "Room1", "TaskId": "Task1", "StartTime": "1795593600000" }
 */
const WatchQuerySchema = TaskQuerySchema;

/** A page's size and where it goes on (a token an earlier page answered). */
const PagingShape = {
  PageSize: WholeNumber(1, 100).optional(),
  PageToken: z
    .string()
    .regex(/^[A-Za-z0-9+/=_.~-]{1,1024}$/, 'it is not a token this API returned')
    .optional(),
};

/**
 * Query of ListArchivedSegmentTasks.
 * @example { "AppId": "661e3b4c9a5f7d0012a543cf", "RoomId": "Room1", "PageSize": "20" }
 */
const RoomPageQuerySchema = z.object({ AppId: IdSchema, RoomId: IdSchema, ...PagingShape });

/**
 * Query of ListSegmentTaskSnapshots: a task, optionally one run of it by its StartTime (else its
 * newest archived run), and a page of its timeline (PageSize 1–100, default 100; PageToken from
 * the previous page, which stays on the same run).
 * @example { "AppId": "661e3b4c9a5f7d0012a543cf", "RoomId": "Room1", "TaskId": "Task1", "PageSize": "50" }
 */
const SnapshotsQuerySchema = TaskQuerySchema.extend(PagingShape);

// ---- The actions ----

interface LookupActionDeps {
  lookup: SegmentTaskLookup;
  /** This invocation's deadline: the lookup's, less when the Lambda has less time left (deadlineOf); its calls get its signal. */
  deadline: Deadline;
  logger: Logger;
  metrics?: Metrics | undefined;
  now: () => number;
}

export interface LookupAction<Q extends z.ZodObject = z.ZodObject> {
  /** The Action parameter that names it. */
  name: string;
  /** Its query, read before it runs: the first problem is a MissingParameter or InvalidParameter naming the parameter. */
  query: Q;
  /** Its Result, as the OpenAPI document shows it. */
  result: z.ZodType;
  /** Served only by a deployment with an archive. */
  needsArchive: boolean;
  run(deps: LookupActionDeps, query: z.infer<Q>, request: LookupRequest): Promise<HttpAnswer>;
}

/** One action's declaration, its query's type carried to its function. */
const action = <Q extends z.ZodObject>(declaration: LookupAction<Q>): LookupAction<Q> => declaration;

/** Which run a snapshot belongs to (StartTime), its place in the run's timeline (Seq) and when it was captured. */
const ArchiveInfoSchema = SnapshotFileSchema.pick({ StartTime: true, Seq: true, CapturedAt: true, Final: true, StateHash: true });

/** How a snapshot is shown to callers (ArchiveInfoSchema). */
function archiveInfo(snapshot: SnapshotFile) {
  return {
    StartTime: snapshot.StartTime,
    Seq: snapshot.Seq,
    CapturedAt: snapshot.CapturedAt,
    Final: snapshot.Final,
    StateHash: snapshot.StateHash,
  };
}

interface TaskQuery {
  address: TaskAddress;
  startTime: number | undefined;
}

/** The task (and run) a query names; a StartTime outside 2020-01-01 … now + 1 day is refused. */
function checkedTask(query: { AppId: string; RoomId: string; TaskId: string; StartTime?: number | undefined }, now: number): TaskQuery {
  const problem = query.StartTime === undefined ? undefined : startTimeProblem(query.StartTime, now);
  if (problem) throw new InvalidParameterError('StartTime', problem);
  return { address: { appId: query.AppId, roomId: query.RoomId, taskId: query.TaskId }, startTime: query.StartTime };
}

/** A timeline page token: the run (so later pages stay on it whatever run is newest) and the last Seq answered. */
const timelineToken = (startTime: number, seq: number) => Buffer.from(`${startTime}.${seq}`).toString('base64url');

function readTimelineToken(token: string, startTime: number | undefined): { startTime: number; after: number } {
  const match = /^(\d{1,16})\.(\d{1,9})$/.exec(Buffer.from(token, 'base64url').toString('latin1'));
  if (!match) throw new InvalidParameterError('PageToken', 'it is not a token this API returned');
  const read = { startTime: Number(match[1]), after: Number(match[2]) };
  if (startTime !== undefined && startTime !== read.startTime)
    throw new InvalidParameterError('PageToken', 'it belongs to another run than the StartTime given');
  return read;
}

const DEFAULT_SNAPSHOT_PAGE = 100;

function notFound({ address, startTime }: TaskQuery, what: string, upstreamRequestId?: string): TaskNotFoundError {
  const run = startTime === undefined ? '' : ` (run StartTime=${startTime})`;
  return new TaskNotFoundError(
    `The segment task AppId=${address.appId}, RoomId=${address.roomId}, TaskId=${address.taskId}${run} ${what}.`,
    { upstream: { requestId: upstreamRequestId } },
  );
}

type GetQuery = z.infer<typeof GetQuerySchema>;

/** GetSegmentTask without TaskId: Volcengine's answer as it gave it, nothing of it kept. */
async function getWithoutTaskId({ lookup, logger, metrics, deadline }: LookupActionDeps, query: GetQuery, request: LookupRequest) {
  if (query.StartTime !== undefined) throw new InvalidParameterError('StartTime', 'it names a run of a task, so it needs a TaskId');
  const { AppId: appId, RoomId: roomId } = query;
  logger.appendKeys({ appId, roomId, withoutTaskId: true });
  const answer = await lookup.withoutTaskId(request.version, { appId, roomId }, deadline);
  if (metrics) publishMetric(metrics, LOOKUP_METRICS, 'AnswersFromVolcengine', 1);
  return {
    result: answer.result,
    headers: { 'X-Answer-Source': 'volcengine', ...(answer.requestId ? { 'X-Upstream-Request-Id': answer.requestId } : {}) },
  };
}

const ANSWER_METRIC = { volcengine: 'AnswersFromVolcengine', cache: 'AnswersFromCache', archive: 'AnswersFromArchive' } as const;

async function getSegmentTask(deps: LookupActionDeps, query: GetQuery, request: LookupRequest): Promise<HttpAnswer> {
  const { lookup, logger, metrics, now, deadline } = deps;
  if (query.TaskId === undefined) {
    // Absent, not empty: `TaskId=` stays a MissingParameter, as an empty id is no id.
    if (request.parameters.has('TaskId') || !lookup.passesWithoutTaskId) throw new MissingParameterError('TaskId');
    return getWithoutTaskId(deps, query, request);
  }
  const task = checkedTask({ ...query, TaskId: query.TaskId }, now());
  const { address } = task;
  logger.appendKeys({ appId: address.appId, roomId: address.roomId, taskId: address.taskId });
  const answer = await lookup.get(request.version, address, task.startTime, deadline);
  if (metrics) publishMetric(metrics, LOOKUP_METRICS, ANSWER_METRIC[answer.source], 1);
  if (!answer.task) {
    throw notFound(
      task,
      `does not exist or started more than 72 hours ago${lookup.hasArchive ? ', and the archive has no snapshot of it' : ''}`,
      answer.upstreamRequestId,
    );
  }
  return {
    result: { SegmentTask: answer.task, ...(answer.snapshot ? { Archive: archiveInfo(answer.snapshot) } : {}) },
    headers: {
      'X-Answer-Source': answer.source,
      ...(answer.upstreamRequestId ? { 'X-Upstream-Request-Id': answer.upstreamRequestId } : {}),
    },
  };
}

type Access = Awaited<ReturnType<SegmentTaskLookup['archive']>>;

/**
 * Archive work, its S3 and DynamoDB requests cut at the invocation's deadline; an archive failure
 * (the deadline too) that is not already one of our errors becomes ArchiveUnavailableError.
 */
async function withArchive<T>({ lookup, deadline }: LookupActionDeps, work: (access: Access) => Promise<T>): Promise<T> {
  const access = await lookup.archive(deadline.signal);
  try {
    return await work(access);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new ArchiveUnavailableError(error);
  }
}

/** A run named by its StartTime is watched whatever else of the task is; without one, whatever run the task has. */
async function watchSegmentTask(deps: LookupActionDeps, query: z.infer<typeof WatchQuerySchema>): Promise<HttpAnswer> {
  const { now } = deps;
  const { address, startTime } = checkedTask(query, now());
  const outcome = await withArchive(deps, (access) =>
    startTime === undefined
      ? access.registry.registerPending(address, 'watch', now())
      : access.registry.registerRun(address, startTime, 'watch', now()),
  );
  return { result: { Watched: true, AlreadyWatched: outcome === 'already-watched' } };
}

/** A page of a run's timeline, read within the lookup's deadline however long the timeline is. */
async function listSnapshots(deps: LookupActionDeps, query: z.infer<typeof SnapshotsQuerySchema>): Promise<HttpAnswer> {
  const task = checkedTask(query, deps.now());
  const token = query.PageToken === undefined ? undefined : readTimelineToken(query.PageToken, task.startTime);
  const page = await withArchive(deps, async (access) => {
    const run = await access.archive.namedOrNewestRun(task.address, token?.startTime ?? task.startTime);
    if (!run) return undefined;
    // The deadline's signal cuts the entries' reads, and ends the page with those read by then.
    const options = { pageSize: query.PageSize ?? DEFAULT_SNAPSHOT_PAGE, after: token?.after, signal: deps.deadline.signal };
    return { run, ...(await access.archive.timelinePage(run, options)) };
  });
  if (!page || page.snapshots.length === 0) throw notFound(task, 'has no archived snapshot');
  const snapshots = page.snapshots.map((s) => ({ ...archiveInfo(s), SegmentTask: s.SegmentTask }));
  const next = page.next === undefined ? {} : { NextPageToken: timelineToken(page.run.startTime, page.next) };
  return { result: { StartTime: page.run.startTime, Snapshots: snapshots, ...next } };
}

async function listArchived(deps: LookupActionDeps, query: z.infer<typeof RoomPageQuerySchema>): Promise<HttpAnswer> {
  const { AppId: appId, RoomId: roomId, PageToken: token } = query;
  const page = await withArchive(deps, (access) => access.archive.runsInRoom(appId, roomId, query.PageSize ?? 20, token));
  const runs = page.runs.map((run) => ({ TaskId: run.taskId, StartTime: run.startTime }));
  return { result: { AppId: appId, RoomId: roomId, Runs: runs, ...(page.nextToken ? { NextPageToken: page.nextToken } : {}) } };
}

/** The actions, in the order the OpenAPI document and errors list them. */
export const LOOKUP_ACTIONS: readonly LookupAction[] = [
  action({
    name: 'GetSegmentTask',
    query: GetQuerySchema,
    result: z.union([
      /** With a TaskId: the task, and where the archive answered, which snapshot. */
      z.object({ SegmentTask: SegmentTaskSchema, Archive: ArchiveInfoSchema.optional() }),
      z
        .unknown()
        .describe(
          "Without TaskId: Volcengine's Result as it answered it (absent, null, a SegmentTask or another shape), " +
            'with credential-like fields removed; never cached, registered or archived',
        ),
    ]),
    needsArchive: false,
    run: getSegmentTask,
  }),
  action({
    name: 'WatchSegmentTask',
    query: WatchQuerySchema,
    result: z.object({ Watched: z.literal(true), AlreadyWatched: z.boolean() }),
    needsArchive: true,
    run: watchSegmentTask,
  }),
  action({
    name: 'ListSegmentTaskSnapshots',
    query: SnapshotsQuerySchema,
    result: z.object({
      StartTime: z.number().int(),
      Snapshots: z.array(ArchiveInfoSchema.extend({ SegmentTask: SegmentTaskSchema })),
      /** More of the run's timeline follows: pass it as PageToken. */
      NextPageToken: z.string().optional(),
    }),
    needsArchive: true,
    run: listSnapshots,
  }),
  action({
    name: 'ListArchivedSegmentTasks',
    query: RoomPageQuerySchema,
    result: z.object({
      AppId: z.string(),
      RoomId: z.string(),
      /** TaskIds in key order, each one's runs newest first. */
      Runs: z.array(z.object({ TaskId: z.string(), StartTime: z.number().int() })),
      NextPageToken: z.string().optional(),
    }),
    needsArchive: true,
    run: listArchived,
  }),
];

// ---- The handler ----

interface LookupHandlerDeps {
  lookup: SegmentTaskLookup;
  region: string;
  logger: Logger;
  now?: () => number;
  /** Published per invocation when given: answers by source, upstream throttles, quota use. */
  metrics?: Metrics | undefined;
  quota?: { drainStats(): QuotaStats } | undefined;
}

/** What a lookup keeps of its invocation's time beyond its deadline: the response, the logs, the metrics. */
const TIMEOUT_MARGIN_MS = 2_000;

/**
 * The invocation's one deadline: the lookup's, cut to the Lambda's time left less the margin, and
 * cancelled with middy's signal (invocationDeadline). middy's own early timeout stays its default
 * backstop, just before Lambda's: moved up to the margin, its answer would pre-empt the lookup's own
 * at the same instant (a 504 naming Volcengine, or the archive's answer).
 */
const deadlineOf = (deadlineMs: number, context: Context, cancelled: AbortSignal): Deadline =>
  invocationDeadline(deadlineMs, TIMEOUT_MARGIN_MS, context, cancelled);

export function createLookupHandler(deps: LookupHandlerDeps) {
  const { lookup, region, logger, metrics, quota } = deps;
  const actionDeps = { lookup, logger, metrics, now: deps.now ?? Date.now };
  // The archive's actions only with an archive; in the declarations' order, which errors list.
  const served = new Map(
    LOOKUP_ACTIONS.filter((action) => lookup.hasArchive || !action.needsArchive).map((action) => [action.name, action]),
  );
  const names = [...served.keys()];

  const handler = httpFunction(
    {
      read: (event) => readLookupRequest(event, names),
      answer: (request, context, signal) => {
        const action = served.get(request.action)!;
        const invocation = { ...actionDeps, deadline: deadlineOf(lookup.deadlineMs, context, signal) };
        return action.run(invocation, readQuery(action.query, request.parameters), request);
      },
    },
    { region, logger, metrics },
  );
  return metrics ? handler.use(lookupMetrics(metrics, quota)) : handler;
}

/** Per invocation: upstream throttles, and the shared quota's use when there is one. */
function lookupMetrics(metrics: Metrics, quota: LookupHandlerDeps['quota']) {
  const drain = () => {
    if (quota) addQuotaMetrics(metrics, quota.drainStats());
  };
  return {
    after: drain,
    onError: (request: { error: unknown }) => {
      if (isThrottle(request.error)) publishMetric(metrics, LOOKUP_METRICS, 'UpstreamThrottles', 1);
      drain();
    },
  };
}
