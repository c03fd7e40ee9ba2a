/**
 * One archiver run: walks the watch registry earliest deadline first, polls each entry that is due
 * at most once, and applies what lib/archive/decision.ts decides: record the run Volcengine shows
 * (a final snapshot when terminal or near StartTime + 72 h), ask again later, or let the entry go.
 * An entry is retired only once its run's stored latest snapshot is final, or its deadline passed.
 * It stops taking work when the Lambda time budget runs low; a failure leaves the entry in place.
 */
import { runOf } from '../task.ts';
import { withTimeout } from '../timeout.ts';
import type { GetSegmentTaskResult, SegmentTaskUpstream } from '../upstream.ts';
import type { ApiVersion } from '../volc/schemas.ts';
import { VolcApiError, VolcBudgetExhaustedError } from '../volc/errors.ts';
import { beforePoll, decide, observe, type AnswerDecision } from './decision.ts';
import type { SegmentArchive } from './segment-archive.ts';
import { startTimeOf, type WatchRegistry, type WatchedEntry } from './watch-registry.ts';

export interface ArchiverOptions {
  registry: WatchRegistry;
  archive: SegmentArchive;
  upstream: SegmentTaskUpstream;
  version: ApiVersion;
  now: () => number;
  /** The final snapshot is taken once now >= deadline - finalMarginMs. */
  finalMarginMs: number;
  callTimeoutMs: number;
  concurrency: number;
  /** Time left in this invocation; no new entry is taken below safetyMs. */
  timeLeftMs: () => number;
  safetyMs: number;
  /**
   * Kept of the time left for the run's end (summary, metrics): an entry's work that would run
   * into it is abandoned (its effects are idempotent), the entry kept, and the run ends. Unset:
   * no bound per entry.
   */
  finishReserveMs?: number;
  /** An entry Volcengine does not show a run for is asked again after this long, until its deadline. */
  unknownRetryMs: number;
  /** Called for each entry left for the next run, and once without one when the registry cannot be listed. */
  onError?: (error: unknown, entry?: WatchedEntry) => void;
  /** Called for each answer whose StartTime is absent or implausible (the entry is kept). */
  onSchemaDrift?: (problem: string, entry: WatchedEntry) => void;
}

export interface ArchiveRunSummary {
  tasksPolled: number;
  snapshotsWritten: number;
  tasksRetired: number;
  /** Runs replaced by a newer run of the same TaskId before their final snapshot. */
  runsSuperseded: number;
  throttled: number;
  errors: number;
  notFound: number;
  /** Answers whose StartTime was absent or not epoch ms. */
  schemaDrift: number;
  /** Runs whose 72-hour window closed before their final snapshot was written. */
  finalSnapshotsMissed: number;
  /** Entries this run did not reach (time budget). */
  stoppedEarly: boolean;
  /** Earliest deadline still in the registry after the run (epoch ms), if any. */
  oldestDeadlineLeft: number | undefined;
  /** For each state change captured: time since the run's previous capture; the largest. */
  archiveLagMs: number;
}

const emptySummary = (): ArchiveRunSummary => ({
  tasksPolled: 0,
  snapshotsWritten: 0,
  tasksRetired: 0,
  runsSuperseded: 0,
  throttled: 0,
  errors: 0,
  notFound: 0,
  schemaDrift: 0,
  finalSnapshotsMissed: 0,
  stoppedEarly: false,
  oldestDeadlineLeft: undefined,
  archiveLagMs: 0,
});

export async function runArchiver(options: ArchiverOptions): Promise<ArchiveRunSummary> {
  const summary = emptySummary();
  const apply = new EntryWork(options, summary);
  // Each address once per run, however often moved entries are listed again on later pages.
  const handled = new Set<string>();
  const entries = options.registry.entries();
  let listingFailed = false;

  const worker = async () => {
    for (;;) {
      const left = options.timeLeftMs();
      if (left < options.safetyMs) {
        summary.stoppedEarly = true;
        return;
      }
      let next: IteratorResult<WatchedEntry>;
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
      const entry = next.value;
      if (handled.has(entry.identity)) continue;
      handled.add(entry.identity);
      try {
        const work = apply.process(entry);
        await (options.finishReserveMs === undefined
          ? work
          : withTimeout(work, left - options.finishReserveMs, () => new OutOfTime(ENTRY_OUT_OF_TIME)));
      } catch (error) {
        summary.errors++;
        apply.kept(entry.deadline);
        options.onError?.(error, entry);
        if (error instanceof OutOfTime) {
          summary.stoppedEarly = true;
          return;
        }
      }
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  if (summary.stoppedEarly && !listingFailed) {
    const next = await entries.next().catch(() => undefined);
    if (next && !next.done) apply.kept(next.value.deadline);
  }
  await entries.return(undefined).catch(() => undefined);
  return summary;
}

class OutOfTime extends Error {
  override name = 'OutOfTime';
}

const ENTRY_OUT_OF_TIME = "the entry's work ran into the time kept for the end of the run";

/** Applies the decisions for one entry to the upstream, the registry and the archive. */
class EntryWork {
  constructor(
    readonly options: ArchiverOptions,
    readonly summary: ArchiveRunSummary,
  ) {}

  kept(deadline: number): void {
    const left = this.summary.oldestDeadlineLeft;
    this.summary.oldestDeadlineLeft = left === undefined ? deadline : Math.min(left, deadline);
  }

  async process(entry: WatchedEntry): Promise<void> {
    const { options, summary } = this;
    const before = beforePoll(entry, options.now());
    if (before.kind === 'skip') return this.kept(entry.deadline);
    if (before.kind === 'expire') return this.expire(entry, before.outcome);
    let answer: GetSegmentTaskResult;
    try {
      answer = await options.upstream.getSegmentTask(options.version, entry.address, {
        timeoutMs: options.callTimeoutMs,
        priority: entry.deadline,
      });
    } catch (error) {
      if (error instanceof VolcBudgetExhaustedError || (error instanceof VolcApiError && error.throttled)) {
        summary.throttled++;
        return this.kept(entry.deadline);
      }
      throw error;
    }
    summary.tasksPolled++;
    const now = options.now();
    const observation = observe(answer.task, now);
    if (observation.kind === 'not-shown') summary.notFound++;
    const decision = decide(entry, observation, now, options);
    return this.applyAnswer(entry, decision, answer.requestId, now);
  }

  async applyAnswer(entry: WatchedEntry, decision: AnswerDecision, requestId: string | undefined, now: number): Promise<void> {
    const { options, summary } = this;
    if (decision.kind === 'keep') {
      summary.schemaDrift++;
      options.onSchemaDrift?.(decision.problem, entry);
      return this.kept(entry.deadline);
    }
    if (decision.kind === 'wait') {
      const moved = await options.registry.move(entry, decision.target, now);
      return this.kept(moved.deadline);
    }
    if (decision.superseded !== undefined) await this.supersede(entry, decision.superseded, now);
    const run = runOf(entry.address, decision.startTime);
    const recorded = await options.archive.record(run, {
      task: decision.task,
      capturedAt: now,
      source: 'archiver',
      final: decision.final,
      upstreamRequestId: requestId,
    });
    if (recorded.outcome === 'written') {
      summary.snapshotsWritten++;
      if (recorded.previous) summary.archiveLagMs = Math.max(summary.archiveLagMs, now - Date.parse(recorded.previous.CapturedAt));
    }
    // Only what is stored counts: an overlapping run may hold a newer, non-final snapshot.
    if (recorded.latest.Final) {
      await options.registry.retire(entry);
      summary.tasksRetired++;
      return;
    }
    const moved = await options.registry.move(entry, decision.target, now);
    this.kept(moved.deadline);
  }

  /** A newer run of the same TaskId replaced the entry's run: Volcengine will not show the earlier one again. */
  async supersede(entry: WatchedEntry, startTime: number, now: number): Promise<void> {
    if (await this.options.archive.markUnfinished(runOf(entry.address, startTime), 'superseded', now)) this.summary.runsSuperseded++;
  }

  async expire(entry: WatchedEntry, outcome: 'not-found' | 'window-closed'): Promise<void> {
    const { options, summary } = this;
    const now = options.now();
    if (outcome === 'not-found') {
      await options.registry.retireNotFound(entry, now);
    } else {
      const run = runOf(entry.address, startTimeOf(entry)!);
      if (await options.archive.markUnfinished(run, 'expired-without-final', now)) summary.finalSnapshotsMissed++;
      await options.registry.retire(entry);
    }
    summary.tasksRetired++;
  }
}
