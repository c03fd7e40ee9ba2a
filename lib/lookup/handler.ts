/** The lookup function: its four actions, in the HTTP pipeline every function shares (lib/http/pipeline.ts). */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { QuotaStats } from '../quota/fleet-limiter.ts';
import { addQuotaMetrics } from '../quota/metrics.ts';
import { AppError, ArchiveUnavailableError, InvalidParameterError, TaskNotFoundError, ThrottledError } from '../errors.ts';
import { successResponse } from '../http/envelope.ts';
import { httpFunction } from '../http/pipeline.ts';
import { runOf, startTimeProblem, type TaskAddress } from '../task.ts';
import type { SnapshotFile } from '../archive/schemas.ts';
import { readLookupRequest, readQuery, RoomPageQuerySchema, TaskQuerySchema, type LookupRequest } from './actions.ts';
import type { Answer, SegmentTaskLookup } from './segment-task-lookup.ts';

export interface LookupHandlerDeps {
  lookup: SegmentTaskLookup;
  region: string;
  logger: Logger;
  now?: () => number;
  /** Published per invocation when given: answers by source, upstream throttles, quota use. */
  metrics?: Metrics | undefined;
  quota?: { drainStats(): QuotaStats } | undefined;
}

const ANSWER_METRIC = { volcengine: 'AnswersFromVolcengine', cache: 'AnswersFromCache', archive: 'AnswersFromArchive' } as const;

export const LIVE_ACTIONS = ['GetSegmentTask'] as const;
export const ARCHIVE_ACTIONS = ['WatchSegmentTask', 'ListSegmentTaskSnapshots', 'ListArchivedSegmentTasks'] as const;

interface ActionResult {
  result: unknown;
  headers?: Record<string, string>;
}

/** How a snapshot is shown to callers. */
export function archiveInfo(snapshot: SnapshotFile) {
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

export function createLookupHandler(deps: LookupHandlerDeps) {
  const { lookup, region, logger, metrics, quota } = deps;
  const now = deps.now ?? Date.now;
  const actions: readonly string[] = lookup.hasArchive ? [...LIVE_ACTIONS, ...ARCHIVE_ACTIONS] : LIVE_ACTIONS;

  const withArchive = async <T>(work: (access: Awaited<ReturnType<SegmentTaskLookup['archive']>>) => Promise<T>): Promise<T> => {
    const access = await lookup.archive();
    try {
      return await work(access);
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new ArchiveUnavailableError(error);
    }
  };

  /** The task (and run) a query names; a StartTime outside 2020-01-01 … now + 1 day is refused. */
  const taskQuery = (parameters: LookupRequest['parameters']): TaskQuery => {
    const query = readQuery(TaskQuerySchema, parameters);
    const problem = query.StartTime === undefined ? undefined : startTimeProblem(query.StartTime, now());
    if (problem) throw new InvalidParameterError('StartTime', problem);
    return { address: { appId: query.AppId, roomId: query.RoomId, taskId: query.TaskId }, startTime: query.StartTime };
  };

  const notFound = ({ address, startTime }: TaskQuery, what: string, upstreamRequestId?: string) => {
    const run = startTime === undefined ? '' : ` (run StartTime=${startTime})`;
    return new TaskNotFoundError(
      `The segment task AppId=${address.appId}, RoomId=${address.roomId}, TaskId=${address.taskId}${run} ${what}.`,
      {
        upstream: { requestId: upstreamRequestId },
      },
    );
  };

  const handlers: Record<string, (request: LookupRequest) => Promise<ActionResult>> = {
    async GetSegmentTask(request) {
      const query = taskQuery(request.parameters);
      const { address } = query;
      logger.appendKeys({ appId: address.appId, roomId: address.roomId, taskId: address.taskId });
      const answer: Answer = await lookup.get(request.version, address, query.startTime);
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
    },

    async WatchSegmentTask(request) {
      const { address, startTime } = taskQuery(request.parameters);
      const outcome = await withArchive((access) => access.registry.register(address, startTime, 'watch', now()));
      return { result: { Watched: true, AlreadyWatched: outcome === 'already-watched' } };
    },

    async ListSegmentTaskSnapshots(request) {
      const query = taskQuery(request.parameters);
      const timeline = await withArchive(async (access) => {
        const startTime = query.startTime ?? (await access.archive.latestRunStart(query.address));
        return startTime === undefined ? [] : access.archive.timeline(runOf(query.address, startTime));
      });
      if (timeline.length === 0) throw notFound(query, 'has no archived snapshot');
      return {
        result: { StartTime: timeline[0]!.StartTime, Snapshots: timeline.map((s) => ({ ...archiveInfo(s), SegmentTask: s.SegmentTask })) },
      };
    },

    async ListArchivedSegmentTasks(request) {
      const query = readQuery(RoomPageQuerySchema, request.parameters);
      const { AppId: appId, RoomId: roomId, PageToken: token } = query;
      const pageSize = query.PageSize ?? 20;
      const page = await withArchive((access) => access.archive.runsInRoom(appId, roomId, pageSize, token));
      const runs = page.runs.map((run) => ({ TaskId: run.taskId, StartTime: run.startTime }));
      return { result: { AppId: appId, RoomId: roomId, Runs: runs, ...(page.nextToken ? { NextPageToken: page.nextToken } : {}) } };
    },
  };

  return httpFunction(
    async (event, envelope) => {
      try {
        const request = readLookupRequest(event, actions);
        envelope.action = request.action;
        envelope.version = request.version;
        const { result, headers } = await handlers[request.action]!(request);
        return successResponse(envelope, region, result, headers);
      } catch (error) {
        if (metrics && error instanceof ThrottledError) metrics.addMetric('UpstreamThrottles', MetricUnit.Count, 1);
        throw error;
      } finally {
        if (metrics && quota) addQuotaMetrics(metrics, quota.drainStats());
      }
    },
    { region, logger, ...(metrics ? { metrics } : {}) },
  );
}
