/** The lookup's actions: each reads its query and answers from Volcengine, the cache or the archive. */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { AppError, ArchiveUnavailableError, InvalidParameterError, TaskNotFoundError } from '../errors.ts';
import { startTimeProblem, type TaskAddress } from '../task.ts';
import type { SnapshotFile } from '../archive/schemas.ts';
import { readQuery, RoomPageQuerySchema, TaskQuerySchema, type LookupRequest } from './requests.ts';
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
  const query = readQuery(TaskQuerySchema, parameters);
  const problem = query.StartTime === undefined ? undefined : startTimeProblem(query.StartTime, now);
  if (problem) throw new InvalidParameterError('StartTime', problem);
  return { address: { appId: query.AppId, roomId: query.RoomId, taskId: query.TaskId }, startTime: query.StartTime };
}

function notFound({ address, startTime }: TaskQuery, what: string, upstreamRequestId?: string): TaskNotFoundError {
  const run = startTime === undefined ? '' : ` (run StartTime=${startTime})`;
  return new TaskNotFoundError(
    `The segment task AppId=${address.appId}, RoomId=${address.roomId}, TaskId=${address.taskId}${run} ${what}.`,
    { upstream: { requestId: upstreamRequestId } },
  );
}

function getSegmentTask({ lookup, logger, metrics, now }: LookupActionDeps): LookupAction {
  return async (request) => {
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
    async WatchSegmentTask(request) {
      const { address, startTime } = taskQuery(request.parameters, now());
      const outcome = await withArchive((access) => access.registry.register(address, startTime, 'watch', now()));
      return { result: { Watched: true, AlreadyWatched: outcome === 'already-watched' } };
    },
    async ListSegmentTaskSnapshots(request) {
      const query = taskQuery(request.parameters, now());
      const timeline = await withArchive(async (access) => {
        const run = await access.archive.namedOrNewestRun(query.address, query.startTime);
        return run ? access.archive.timeline(run) : [];
      });
      if (timeline.length === 0) throw notFound(query, 'has no archived snapshot');
      return {
        result: { StartTime: timeline[0]!.StartTime, Snapshots: timeline.map((s) => ({ ...archiveInfo(s), SegmentTask: s.SegmentTask })) },
      };
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
