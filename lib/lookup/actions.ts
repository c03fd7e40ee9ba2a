/** The lookup's actions: each reads its query and answers from Volcengine, the cache or the archive. */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { AppError, ArchiveUnavailableError, InvalidParameterError, TaskNotFoundError } from '../errors.ts';
import { startTimeProblem, type TaskAddress } from '../task.ts';
import type { SnapshotFile } from '../archive/schemas.ts';
import { readQuery, RoomPageQuerySchema, RoomQuerySchema, SnapshotsQuerySchema, TaskQuerySchema, type LookupRequest } from './requests.ts';
import type { SegmentTaskLookup } from './segment-task-lookup.ts';

export interface ActionResult {
  result: unknown;
  headers?: Record<string, string>;
}

export type LookupAction = (request: LookupRequest) => Promise<ActionResult>;

export interface LookupActionDeps {
  lookup: SegmentTaskLookup;
  logger: Logger;
  metrics?: Metrics | undefined;
  now: () => number;
}

const ANSWER_METRIC = { volcengine: 'AnswersFromVolcengine', cache: 'AnswersFromCache', archive: 'AnswersFromArchive' } as const;

/** How a snapshot is shown to callers. */
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
function taskQuery(parameters: LookupRequest['parameters'], now: number): TaskQuery {
  return checkedTask(readQuery(TaskQuerySchema, parameters), now);
}

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

/** GetSegmentTask without TaskId: Volcengine's answer as it gave it, nothing of it kept. */
async function getWithoutTaskId({ lookup, logger, metrics }: LookupActionDeps, request: LookupRequest): Promise<ActionResult> {
  const { AppId: appId, RoomId: roomId } = readQuery(RoomQuerySchema, request.parameters);
  if (request.parameters.get('StartTime')) throw new InvalidParameterError('StartTime', 'it names a run of a task, so it needs a TaskId');
  logger.appendKeys({ appId, roomId, withoutTaskId: true });
  const answer = await lookup.withoutTaskId(request.version, { appId, roomId });
  metrics?.addMetric(ANSWER_METRIC.volcengine, MetricUnit.Count, 1);
  return {
    result: answer.result,
    headers: { 'X-Answer-Source': 'volcengine', ...(answer.requestId ? { 'X-Upstream-Request-Id': answer.requestId } : {}) },
  };
}

function getSegmentTask(deps: LookupActionDeps): LookupAction {
  const { lookup, logger, metrics, now } = deps;
  return async (request) => {
    // Absent, not empty: `TaskId=` stays a MissingParameter, as an empty id is no id.
    if (!request.parameters.has('TaskId') && lookup.passesWithoutTaskId) return getWithoutTaskId(deps, request);
    const query = taskQuery(request.parameters, now());
    const { address } = query;
    logger.appendKeys({ appId: address.appId, roomId: address.roomId, taskId: address.taskId });
    const answer = await lookup.get(request.version, address, query.startTime);
    metrics?.addMetric(ANSWER_METRIC[answer.source], MetricUnit.Count, 1);
    if (!answer.task) {
      throw notFound(
        query,
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
  };
}

function archiveActions({ lookup, now }: LookupActionDeps): Record<string, LookupAction> {
  /** Archive work; an archive failure that is not already an answer becomes a 503. */
  const withArchive = async <T>(work: (access: Awaited<ReturnType<SegmentTaskLookup['archive']>>) => Promise<T>): Promise<T> => {
    const access = await lookup.archive();
    try {
      return await work(access);
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new ArchiveUnavailableError(error);
    }
  };
  return {
    /** A run named by its StartTime is watched whatever else of the task is; without one, whatever run the task has. */
    async WatchSegmentTask(request) {
      const { address, startTime } = taskQuery(request.parameters, now());
      const outcome = await withArchive((access) =>
        startTime === undefined
          ? access.registry.registerPending(address, 'watch', now())
          : access.registry.registerRun(address, startTime, 'watch', now()),
      );
      return { result: { Watched: true, AlreadyWatched: outcome === 'already-watched' } };
    },
    /** A page of a run's timeline, read within the lookup's deadline however long the timeline is. */
    async ListSegmentTaskSnapshots(request) {
      const parameters = readQuery(SnapshotsQuerySchema, request.parameters);
      const query = checkedTask(parameters, now());
      const token = parameters.PageToken === undefined ? undefined : readTimelineToken(parameters.PageToken, query.startTime);
      const page = await withArchive(async (access) => {
        const run = await access.archive.namedOrNewestRun(query.address, token?.startTime ?? query.startTime);
        if (!run) return undefined;
        const options = {
          pageSize: parameters.PageSize ?? DEFAULT_SNAPSHOT_PAGE,
          after: token?.after,
          signal: AbortSignal.timeout(lookup.deadlineMs),
        };
        return { run, ...(await access.archive.timelinePage(run, options)) };
      });
      if (!page || page.snapshots.length === 0) throw notFound(query, 'has no archived snapshot');
      const snapshots = page.snapshots.map((s) => ({ ...archiveInfo(s), SegmentTask: s.SegmentTask }));
      const next = page.next === undefined ? {} : { NextPageToken: timelineToken(page.run.startTime, page.next) };
      return { result: { StartTime: page.run.startTime, Snapshots: snapshots, ...next } };
    },
    async ListArchivedSegmentTasks(request) {
      const query = readQuery(RoomPageQuerySchema, request.parameters);
      const { AppId: appId, RoomId: roomId, PageToken: token } = query;
      const page = await withArchive((access) => access.archive.runsInRoom(appId, roomId, query.PageSize ?? 20, token));
      const runs = page.runs.map((run) => ({ TaskId: run.taskId, StartTime: run.startTime }));
      return { result: { AppId: appId, RoomId: roomId, Runs: runs, ...(page.nextToken ? { NextPageToken: page.nextToken } : {}) } };
    },
  };
}

/** The actions this deployment serves by name, in the order errors list them; the archive ones only with an archive. */
export function createLookupActions(deps: LookupActionDeps): Record<string, LookupAction> {
  return { GetSegmentTask: getSegmentTask(deps), ...(deps.lookup.hasArchive ? archiveActions(deps) : {}) };
}
