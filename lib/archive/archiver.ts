/**
 * One archiver run: walks the watch registry in earliest-deadline-first order, polls each task
 * under the archiver's own QPS budget, records a snapshot when the state changed, records a final
 * snapshot before StartTime + 72 h - margin, and retires a task only after its terminal or final
 * snapshot is durably written. It stops taking work when the Lambda time budget runs low; the
 * next run starts again from the earliest deadline. A failure leaves the entry in place.
 */
import { taskIdentity, type VolcClient } from '../volc/client.ts';
import { isTerminalStatus, type ApiVersion } from '../volc/schemas.ts';
import { VolcApiError, VolcBudgetExhaustedError } from '../volc/errors.ts';
import { SNAPSHOT_FORMAT_VERSION, type RetiredFile } from './schemas.ts';
import type { SegmentArchive } from './segment-archive.ts';
import { WINDOW_MS, type WatchRegistry, type WatchedTask } from './watch-registry.ts';

export interface ArchiverOptions {
  registry: WatchRegistry;
  archive: SegmentArchive;
  client: VolcClient;
  version: ApiVersion;
  now: () => number;
  /** The final snapshot is taken once now >= deadline - finalMarginMs. */
  finalMarginMs: number;
  callTimeoutMs: number;
  concurrency: number;
  /** Time left in this invocation; no new task is taken below safetyMs. */
  timeLeftMs: () => number;
  safetyMs: number;
  /** A task Volcengine does not show yet is asked again after this long, until 72 h have passed. */
  unknownRetryMs: number;
  /** Called for each task left for the next run, and once without a task when the registry cannot be listed. */
  onError?: (error: unknown, task?: WatchedTask) => void;
}

export interface ArchiveRunSummary {
  tasksPolled: number;
  snapshotsWritten: number;
  tasksRetired: number;
  throttled: number;
  errors: number;
  notFound: number;
  /** Tasks whose 72-hour window closed before their final snapshot was written. */
  finalSnapshotsMissed: number;
  /** Entries this run did not reach (time budget). */
  stoppedEarly: boolean;
  /** Earliest deadline still in the registry after the run (epoch ms), if any. */
  oldestDeadlineLeft: number | undefined;
  /** For each state change captured: time since the task's previous capture; the largest. */
  archiveLagMs: number;
}

export async function runArchiver(options: ArchiverOptions): Promise<ArchiveRunSummary> {
  const summary: ArchiveRunSummary = {
    tasksPolled: 0,
    snapshotsWritten: 0,
    tasksRetired: 0,
    throttled: 0,
    errors: 0,
    notFound: 0,
    finalSnapshotsMissed: 0,
    stoppedEarly: false,
    oldestDeadlineLeft: undefined,
    archiveLagMs: 0,
  };
  const kept = (deadline: number) => {
    summary.oldestDeadlineLeft = summary.oldestDeadlineLeft === undefined ? deadline : Math.min(summary.oldestDeadlineLeft, deadline);
  };
  // Entries moved during this run (provisional → real deadline), so they are not polled twice.
  const moved = new Map<string, string>();
  const entries = options.registry.entries();
  let listingFailed = false;

  const worker = async () => {
    for (;;) {
      if (options.timeLeftMs() < options.safetyMs) {
        summary.stoppedEarly = true;
        return;
      }
      let next: IteratorResult<WatchedTask>;
      try {
        next = await entries.next();
      } catch (error) {
        // The registry cannot be listed (storage fault): end the run cleanly; the next run starts over.
        if (!listingFailed) summary.errors++;
        listingFailed = true;
        options.onError?.(error);
        return;
      }
      if (next.done) return;
      const watched = next.value;
      try {
        await processEntry(watched);
      } catch (error) {
        summary.errors++;
        kept(watched.deadline);
        options.onError?.(error, watched);
      }
    }
  };

  const processEntry = async (watched: WatchedTask): Promise<void> => {
    const movedTo = moved.get(taskIdentity(watched.address));
    if (movedTo === watched.key) return kept(watched.deadline);
    if (movedTo !== undefined) return options.registry.remove(watched); // a stale duplicate of a task handled this run

    let answer;
    try {
      answer = await options.client.getSegmentTask(options.version, watched.address, { timeoutMs: options.callTimeoutMs });
    } catch (error) {
      if (error instanceof VolcBudgetExhaustedError || (error instanceof VolcApiError && error.throttled)) {
        summary.throttled++;
        return kept(watched.deadline);
      }
      throw error;
    }
    summary.tasksPolled++;
    const now = options.now();
    const task = answer.task;

    if (!task) {
      summary.notFound++;
      return handleNotFound(watched, now);
    }
    if (task.StartTime === undefined) {
      // An answer without StartTime (schema drift) cannot be placed in time: keep the task for the next run.
      summary.errors++;
      options.onError?.(new Error('Volcengine answered without StartTime'), watched);
      return kept(watched.deadline);
    }

    let current = watched;
    const deadline = task.StartTime + WINDOW_MS;
    if (current.provisional || current.deadline !== deadline) {
      if (!current.provisional) await retire(current, 'superseded', now); // the TaskId was reused by a newer run
      current = await options.registry.reschedule(current, task.StartTime, now);
      moved.set(taskIdentity(current.address), current.key);
    }

    const final = isTerminalStatus(task.Status) || now >= current.deadline - options.finalMarginMs;
    const recorded = await options.archive.record(current.address, { task, capturedAt: now, source: 'archiver', final, upstreamRequestId: answer.requestId });
    if (recorded.outcome === 'written') {
      summary.snapshotsWritten++;
      if (recorded.previous) summary.archiveLagMs = Math.max(summary.archiveLagMs, now - Date.parse(recorded.previous.CapturedAt));
    }
    if (final) {
      await options.registry.remove(current);
      summary.tasksRetired++;
    } else {
      kept(current.deadline);
    }
  };

  const handleNotFound = async (watched: WatchedTask, now: number): Promise<void> => {
    if (watched.provisional) {
      if (now - watched.deadline < WINDOW_MS) {
        const postponed = await options.registry.postpone(watched, now + options.unknownRetryMs);
        return kept(postponed.deadline);
      }
      return retire(watched, 'not-found', now, true);
    }
    const latest = await options.archive.latest(watched.address);
    if (latest?.Final) {
      await options.registry.remove(watched); // already final; an earlier run stopped before removing it
      summary.tasksRetired++;
      return;
    }
    if (now >= watched.deadline - options.finalMarginMs) summary.finalSnapshotsMissed++;
    return retire(watched, now >= watched.deadline ? 'expired-without-final' : 'not-found', now, true);
  };

  const retire = async (watched: WatchedTask, outcome: RetiredFile['Outcome'], now: number, removeEntry = false): Promise<void> => {
    const latest = outcome === 'superseded' ? undefined : await options.archive.latest(watched.address);
    const record: RetiredFile = {
      FormatVersion: SNAPSHOT_FORMAT_VERSION,
      Outcome: outcome,
      At: new Date(now).toISOString(),
      HadSnapshot: latest !== undefined,
      StartTime: watched.provisional ? null : watched.deadline - WINDOW_MS,
    };
    await options.registry.store.putJson(options.registry.keys.retired(watched.address), record);
    if (removeEntry) {
      await options.registry.remove(watched);
      summary.tasksRetired++;
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  if (summary.stoppedEarly && !listingFailed) {
    const next = await entries.next().catch(() => undefined);
    if (next && !next.done) kept(next.value.deadline);
  }
  await entries.return(undefined).catch(() => undefined);
  return summary;
}
