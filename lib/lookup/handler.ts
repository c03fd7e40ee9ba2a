/** The lookup function: its four actions, in the HTTP pipeline every function shares (lib/http/pipeline.ts). */
import type { Logger } from '@aws-lambda-powertools/logger';
import { AppError, InvalidParameterError, TaskNotFoundError } from '../errors.ts';
import { successResponse } from '../http/envelope.ts';
import { httpFunction } from '../http/pipeline.ts';
import type { TaskAddress } from '../volc/client.ts';
import type { SnapshotFile } from '../archive/schemas.ts';
import { readLookupRequest, readQuery, RoomPageQuerySchema, TaskQuerySchema, WatchQuerySchema, type LookupRequest } from './actions.ts';
import { ArchiveUnavailableError, type Answer, type SegmentTaskLookup } from './segment-task-lookup.ts';

export interface LookupHandlerDeps {
  lookup: SegmentTaskLookup;
  region: string;
  logger: Logger;
  now?: () => number;
}

export const LIVE_ACTIONS = ['GetSegmentTask'] as const;
export const ARCHIVE_ACTIONS = ['WatchSegmentTask', 'ListSegmentTaskSnapshots', 'ListArchivedSegmentTasks'] as const;

interface ActionResult {
  result: unknown;
  headers?: Record<string, string>;
}

/** How a snapshot is shown to callers. */
export function archiveInfo(snapshot: SnapshotFile) {
  return { CapturedAt: snapshot.CapturedAt, Final: snapshot.Final, StateHash: snapshot.StateHash };
}

export function createLookupHandler(deps: LookupHandlerDeps) {
  const { lookup, region, logger } = deps;
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

  const taskAddress = (parameters: LookupRequest['parameters']): TaskAddress => {
    const query = readQuery(TaskQuerySchema, parameters);
    return { appId: query.AppId, roomId: query.RoomId, taskId: query.TaskId };
  };

  const notFound = (address: TaskAddress, what: string, upstreamRequestId?: string) =>
    new TaskNotFoundError(`The segment task AppId=${address.appId}, RoomId=${address.roomId}, TaskId=${address.taskId} ${what}.`, {
      upstream: { requestId: upstreamRequestId },
    });

  const handlers: Record<string, (request: LookupRequest) => Promise<ActionResult>> = {
    async GetSegmentTask(request) {
      const address = taskAddress(request.parameters);
      logger.appendKeys({ appId: address.appId, roomId: address.roomId, taskId: address.taskId });
      const answer: Answer = await lookup.get(request.version, address);
      if (!answer.task) {
        throw notFound(address, `does not exist or started more than 72 hours ago${lookup.hasArchive ? ', and the archive has no snapshot of it' : ''}`, answer.upstreamRequestId);
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
      const query = readQuery(WatchQuerySchema, request.parameters);
      const address = { appId: query.AppId, roomId: query.RoomId, taskId: query.TaskId };
      const startTime = query.StartTime;
      if (startTime !== undefined && startTime > now() + 86_400_000) throw new InvalidParameterError('StartTime', 'it lies more than a day in the future');
      const outcome = await withArchive((access) => access.registry.register(address, startTime, 'watch', now()));
      return { result: { Watched: true, AlreadyWatched: outcome === 'already-watched' } };
    },

    async ListSegmentTaskSnapshots(request) {
      const address = taskAddress(request.parameters);
      const timeline = await withArchive((access) => access.archive.timeline(address));
      if (timeline.length === 0) throw notFound(address, 'has no archived snapshot');
      return { result: { Snapshots: timeline.map((s) => ({ ...archiveInfo(s), SegmentTask: s.SegmentTask })) } };
    },

    async ListArchivedSegmentTasks(request) {
      const query = readQuery(RoomPageQuerySchema, request.parameters);
      const { AppId: appId, RoomId: roomId, PageToken: token } = query;
      const pageSize = query.PageSize ?? 20;
      const page = await withArchive(async (access) => {
        try {
          return await access.archive.tasksInRoom(appId, roomId, pageSize, token);
        } catch (error) {
          if (token && (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 400) {
            throw new InvalidParameterError('PageToken', 'it is not a token this API returned');
          }
          throw error;
        }
      });
      return { result: { AppId: appId, RoomId: roomId, TaskIds: page.taskIds, ...(page.nextToken ? { NextPageToken: page.nextToken } : {}) } };
    },
  };

  return httpFunction(
    async (event, envelope) => {
      const request = readLookupRequest(event, actions);
      envelope.action = request.action;
      envelope.version = request.version;
      const { result, headers } = await handlers[request.action]!(request);
      return successResponse(envelope, region, result, headers);
    },
    { region, logger },
  );
}
