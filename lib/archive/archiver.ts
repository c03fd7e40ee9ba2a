/**
 * One archiver run, for one schedule tick: reads the registry's due entries in due order, claims
 * each for the tick (so a duplicate delivery of the schedule, or an overlapping run, polls and
 * writes no entry twice), asks Volcengine once per address, and applies what
 * lib/archive/decision.ts plans: archive the observation, watch a newer run, record why a run or
 * registration ended, reschedule or retire the entry. It stops taking entries when the Lambda time
 * budget runs low, and its work at its deadline (where the time kept for the run's end begins); an
 * entry whose work fails or is cut short stays claimed for this tick only and is due again on the next.
 *
 * What the deadline cuts (its signal given to the requests themselves; Volcengine's answer is given
 * up on) and what it does not (only waited for until the deadline, then left to go on within the
 * clients' per-attempt limit):
 *   cut      reads (the due index's pages and counts, Volcengine's answer, the run index, whether an
 *            app is marked as reusing TaskIds) and the claim: nothing observed is lost with them, and
 *            a claim cut either way leaves what an invocation that died there leaves (the entry due
 *            again on the next tick, asked again then).
 *   not cut  every write that follows an observation (snapshots, registrations of newer runs, records
 *            of why a run or registration ended, an app's reuse mark, reschedules, retirements) and
 *            the tick's lease: a snapshot cut part-way is not rewritten with what this run saw (the
 *            next ask may find a later state, or the run's window closed), as a cut write lost a
 *            lookup's first snapshot (SegmentTaskLookup's #bestEffort says why).
 */
import { untilAborted, type Deadline } from '../deadline.ts';
import type { SegmentTaskUpstream } from '../upstream.ts';
import { isTerminalStatus, type ApiVersion, runOf, taskIdentity, type TaskAddress } from '../volc/schemas.ts';
import {
  beforePoll,
  decide,
  dueAfterClaim,
  observe,
  overdueAfter,
  refreshInterval,
  showsReuse,
  spacesAsks,
  waitsToAsk,
  type DecisionPolicy,
  type Observation,
  type Plan,
} from './decision.ts';
import {
  addressKey,
  dueEntries,
  entrySortKey,
  noLanes,
  readingOrder,
  type DueEntry,
  type EntryChange,
  type EntryRef,
  type Lane,
  type RegistryEntry,
  type TickHold,
  type WatchRegistry,
} from './registry.ts';
import type { ArchiveAccess } from './access.ts';
import { VolcApiError, VolcBudgetExhaustedError } from '../errors.ts';

/** The registry and the archive; `within`, when the stores take a signal, the same with their requests cut by it. */
export interface ArchiverOptions extends ArchiveAccess<WatchRegistry> {
  upstream: SegmentTaskUpstream;
  version: ApiVersion;
  now: () => number;
  /** The schedule tick this run serves (EventBridge's scheduled time): a duplicate delivery of it stops at once. */
  tick: number;
  /** This invocation (Lambda's request id, which a retry of a failed invocation keeps). */
  owner: string;
  /** Captures within this long of a run's window closing are final. */
  finalMarginMs: number;
  callTimeoutMs: number;
  concurrency: number;
  /** Time left in this invocation; no new entry is taken below safetyMs. */
  timeLeftMs: () => number;
  safetyMs: number;
  /**
   * The run's deadline for its work: where the time kept for its end (summary, metrics) begins, or
   * sooner when the invocation is cancelled. Work still running then is cut or abandoned (see above),
   * its entry kept, and the run ends. Unset: no bound.
   */
  deadline?: Deadline | undefined;
  /** An entry Volcengine does not show a run for is asked again after this long, until its deadline. */
  unknownRetryMs: number;
  /** A running run is asked again after this long at the least (lib/archive/decision.ts: refreshInterval). */
  refreshMs: number;
  /** A running run of an app not seen reusing TaskIds is asked again after this long at the least. Unset: refreshMs. */
  noReuseRefreshMs?: number;
  /** An activity watch asks about its run once callbacks have been silent for the run's MaxIdleTime plus this long. */
  idleMarginMs: number;
  /** The calls per second refreshes may take of the archiver's share: with the runs waiting, they set the refresh interval. */
  refreshCallsPerSecond: number;
  /** Called for each entry left for the next run, and once without one when the registry cannot be read. */
  onError?: (error: unknown, entry?: EntryRef) => void;
  /** Called for each answer whose StartTime is absent or implausible (the entry is kept). */
  onSchemaDrift?: (problem: string, entry: EntryRef) => void;
}

export interface ArchiveRunSummary {
  /** Another invocation of this schedule tick ran first: this one did nothing. */
  duplicate: boolean;
  tasksPolled: number;
  snapshotsWritten: number;
  tasksRetired: number;
  /** Runs replaced by a newer run of the same TaskId before their final snapshot. */
  runsSuperseded: number;
  throttled: number;
  /** Entries left for the next run by a fault (storage, Volcengine unavailable, our credentials). */
  errors: number;
  notFound: number;
  /** Answers where Volcengine refused to answer about an address (asked again later, not an error of ours). */
  refused: number;
  /** Answers whose StartTime was absent or not epoch ms. */
  schemaDrift: number;
  /** Runs whose 72-hour window closed before their final snapshot was written. */
  finalSnapshotsMissed: number;
  /** Entries this run did not reach (time budget). */
  stoppedEarly: boolean;
  /** Earliest deadline of the entries this run kept or did not reach (epoch ms), if any. */
  oldestDeadlineLeft: number | undefined;
  /** For each state change captured: time since the run's previous capture; the largest. */
  archiveLagMs: number;
  /** The refresh interval this run chose from the runs waiting in the refresh lane (ms). */
  refreshTargetMs: number;
  /** Runs refreshed (asked again from the refresh or ending lane), and the time since each was asked before: median, largest. */
  refreshes: number;
  refreshIntervalMs: { p50: number; max: number } | undefined;
  /** Entries still due in each lane when a run stopped early (the share or the time did not reach them); zeros otherwise. */
  notReached: Record<Lane, number>;
}

const emptySummary = (): ArchiveRunSummary => ({
  duplicate: false,
  tasksPolled: 0,
  snapshotsWritten: 0,
  tasksRetired: 0,
  runsSuperseded: 0,
  throttled: 0,
  errors: 0,
  notFound: 0,
  refused: 0,
  schemaDrift: 0,
  finalSnapshotsMissed: 0,
  stoppedEarly: false,
  oldestDeadlineLeft: undefined,
  archiveLagMs: 0,
  refreshTargetMs: 0,
  refreshes: 0,
  refreshIntervalMs: undefined,
  notReached: noLanes(),
});

/** How often a run renews its hold on its tick (well inside TICK_LEASE_MS), and records its progress. */
const RENEW_EVERY_MS = 20_000;
/** …or after this many entries, so an heir of a run that dies takes back little it had finished. */
const RENEW_EVERY_ENTRIES = 10;

/**
 * Which entries this run is working on, by when it took them: every entry it took before
 * claimedBefore() is finished (its work done, kept for the next tick, or abandoned), so an
 * invocation that takes the tick over after this one died takes back only the claims made from
 * then on. Claim times are this run's clock made strictly increasing (two claims in one
 * millisecond get successive ones), so no claim made after a record of progress can carry a
 * time that record already covers.
 */
class Progress {
  readonly #inFlight = new Set<number>();
  #lastTaken = Number.NEGATIVE_INFINITY;
  finishedSinceRenewal = 0;

  /** Takes an entry at `now`: answers the time its claim records. */
  take(now: number): number {
    this.#lastTaken = Math.max(now, this.#lastTaken + 1);
    this.#inFlight.add(this.#lastTaken);
    return this.#lastTaken;
  }

  finish(takenAt: number): void {
    this.#inFlight.delete(takenAt);
    this.finishedSinceRenewal++;
  }

  claimedBefore(): number | undefined {
    if (this.#inFlight.size > 0) return Math.min(...this.#inFlight);
    return Number.isFinite(this.#lastTaken) ? this.#lastTaken + 1 : undefined;
  }
}

export async function runArchiver(options: ArchiverOptions): Promise<ArchiveRunSummary> {
  const summary = emptySummary();
  const { registry, tick, owner } = options;
  const signal = options.deadline?.signal;
  // Reads and claims go through `reads`: their requests are cut at the deadline where the stores take a signal.
  const reads: ArchiveAccess<WatchRegistry> = (signal && options.within?.(signal)) ?? options;
  const until = untilDeadline(options);
  let hold: TickHold | undefined;
  try {
    hold = await until(registry.beginTick(tick, owner, options.now()));
    if (!hold) return { ...summary, duplicate: true };
  } catch (error) {
    summary.errors++;
    options.onError?.(error);
    return summary;
  }
  const refresh = await chooseRefresh(options, reads.registry, until);
  summary.refreshTargetMs = refresh.intervalMs;
  const work = new EntryWork(options, { ...options, refreshMs: summary.refreshTargetMs }, summary, hold, reads);
  const progress = new Progress();
  // What is due is due by the schedule tick this run serves, or by this instance's clock once past it: an entry due at the
  // tick (an interval of one schedule counts from the previous tick) is taken although this clock runs behind the
  // schedule's. Listing and claims use it alike (the claim's due condition; claim times stay this run's own sequence).
  const dueBy = () => Math.max(options.now(), tick);
  const listedAt = dueBy();
  // A refresh lane counted empty is not read: two Queries fewer on every run of an archive with no running run. A run a
  // lookup registers after the count is read on the next run (as one registered after the listing would be).
  // Runs whose window closes within three late refreshes after their margin begins: the ones a late refresh could cost
  // their final capture (decision.ts: nextRefresh moves a run to the ending lane one late refresh before its margin).
  const afterMs = overdueAfter(refresh.intervalMs);
  const closingBy = listedAt + options.finalMarginMs + 3 * afterMs;
  const order = readingOrder(listedAt, { afterMs, closingBy }).filter((s) => s.lane !== 'refresh' || refresh.runs !== 0);
  // Each page is read with the deadline's signal: one that is slow to answer ends with it, not in the time kept for the end.
  const entries = dueEntries(reads.registry, order);
  let listingFailed = false;
  let renewedAt = options.now();
  let held = true;
  const outOfTime = () => signal?.aborted === true || options.timeLeftMs() < options.safetyMs;
  /** Renews the hold on the tick now and then; false once another invocation took it over. */
  const holding = async () => {
    if (!held || (options.now() - renewedAt < RENEW_EVERY_MS && progress.finishedSinceRenewal < RENEW_EVERY_ENTRIES)) return held;
    renewedAt = options.now();
    progress.finishedSinceRenewal = 0;
    held = await until(registry.renewTick(tick, owner, renewedAt, progress.claimedBefore())).catch(() => true);
    return held;
  };

  const worker = async () => {
    while (!outOfTime() && (await holding())) {
      let next: IteratorResult<DueEntry>;
      try {
        next = await until(entries.next());
      } catch (error) {
        // A page cut at the deadline: the run is out of time, as when the deadline came between two pages.
        if (signal?.aborted) return;
        // The registry cannot be read (a storage fault): end the run cleanly; the next run starts over.
        if (!listingFailed) summary.errors++;
        listingFailed = true;
        options.onError?.(error);
        return;
      }
      if (next.done) return;
      if (!work.firstSight(next.value)) continue;
      // Reading the page took time too: check again before taking the entry.
      if (outOfTime()) return work.kept(next.value.deadline);
      const takenAt = progress.take(dueBy());
      const goOn = await work.bounded(next.value, takenAt);
      progress.finish(takenAt);
      if (!goOn) return;
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  if (outOfTime()) summary.stoppedEarly = true;
  if (summary.stoppedEarly && !listingFailed) {
    // The next entry not reached, for oldestDeadlineLeft: read only before the deadline (past it, the read is cut).
    const next = await until(entries.next()).catch(() => undefined);
    if (next && !next.done) work.kept(next.value.deadline);
  }
  await until(entries.return(undefined)).catch(() => undefined);
  work.summariseRefreshes();
  // What the run could not reach is counted, never dropped in silence (the *NotReached metrics): what was due when it
  // began listing and still is (what it asked about is due later), within the time kept for the run's end.
  if (summary.stoppedEarly && !listingFailed) summary.notReached = await countLeft(options, reads.registry, until, listedAt);
  // Done with this tick: a later delivery of it (Lambda's retry of a run that failed at its end) stops at once. Waited for
  // while the time kept for the run's end allows, then left to go on: a run that ends without it leaves what one that
  // died there leaves (its tick's lease lapses), where waiting on would end the invocation with no summary.
  if (held && !listingFailed) {
    const ending = registry.endTick(tick, owner);
    const left = options.timeLeftMs() - END_WRITE_MARGIN_MS;
    await (Number.isFinite(left) ? untilAborted(ending, AbortSignal.timeout(Math.max(0, Math.floor(left)))) : ending).catch(
      (error: unknown) => options.onError?.(error),
    );
  }
  return summary;
}

/** What the tick's end write leaves of the Lambda's time, for the summary and the metrics. */
const END_WRITE_MARGIN_MS = 1_000;

/** Far enough ahead to count every entry of a lane. */
const EVER = 8_640_000_000_000_000;

/** Awaits `work` until the run's deadline at the latest, then fails with `expired()` (the deadline's reason by default). */
type Until = <T>(work: Promise<T>, expired?: () => unknown) => Promise<T>;

/** `work`, awaited until the run's deadline at the latest (then left to go on: a store that takes no signal, or a write). */
function untilDeadline(options: Pick<ArchiverOptions, 'deadline'>): Until {
  const signal = options.deadline?.signal;
  return (work, expired) => (signal ? untilAborted(work, signal, expired) : work);
}

/** The runs in the refresh lane (one paged count) and the refresh interval they give; the minimum when they cannot be counted. */
async function chooseRefresh(
  options: ArchiverOptions,
  registry: WatchRegistry,
  until: Until,
): Promise<{ intervalMs: number; runs: number | undefined }> {
  try {
    const { refresh } = await until(registry.dueCount(EVER, ['refresh']));
    return { intervalMs: refreshInterval(refresh, options.refreshCallsPerSecond, options.refreshMs), runs: refresh };
  } catch (error) {
    options.onError?.(error);
    return { intervalMs: options.refreshMs, runs: undefined };
  }
}

/** The entries still due at `listedAt`, per lane, if the count ends by the run's deadline (its requests cut then); none past it. */
async function countLeft(options: ArchiverOptions, registry: WatchRegistry, until: Until, listedAt: number): Promise<Record<Lane, number>> {
  if (options.deadline?.signal.aborted) return noLanes();
  return until(registry.dueCount(listedAt), () => new OutOfTime('counting what was left ran out of time')).catch((error: unknown) => {
    options.onError?.(error);
    return noLanes();
  });
}

class OutOfTime extends Error {
  override name = 'OutOfTime';
}

/** `work`, tried once more if it fails. */
async function twice<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch {
    return work();
  }
}

const ENTRY_OUT_OF_TIME = "the entry's work ran into the time kept for the end of the run";

const POLL_MEMORY = 5_000;

/** What one ask of Volcengine about an address gave. */
type Polled = { observation: Observation; requestId: string | undefined } | { unavailable: 'throttled' | 'failed'; error: unknown };

/** Gateway codes that say our account or request is wrong, not the address: an error of ours, never a refusal. */
const ACCOUNT_FAULTS = new Set([
  'MissingAuthenticationToken',
  'MissingSignature',
  'MissingRequestInfo',
  'InvalidTimestamp',
  'ServiceNotFound',
  'InvalidAccessKey',
  'SignatureDoesNotMatch',
  'LackPolicy',
  'AccessDenied',
  'InvalidAuthorization',
  'InvalidCredential',
  'InvalidActionOrVersion',
  'MissingParameter',
]);

/** Volcengine's code when it refused to answer about this address (a client error that is not throttling), else undefined. */
export function refusalCode(error: unknown): string | undefined {
  if (!(error instanceof VolcApiError) || error.retryable || error.throttled) return undefined;
  const status = error.upstream.httpStatus ?? 0;
  const code = error.upstream.code ?? `HTTP ${status}`;
  return status >= 400 && status < 500 && status !== 401 && !ACCOUNT_FAULTS.has(code) ? code : undefined;
}

/** Applies the plans for the entries of one run to the upstream, the registry and the archive. */
class EntryWork {
  /**
   * One ask per address per run, shared by its entries: the answers of the last POLL_MEMORY
   * addresses asked (a Map in insertion order), so a run over 100,000 entries holds a bounded
   * number; an address whose entries lie further apart in due order is asked again.
   */
  readonly #polls = new Map<string, Promise<Polled>>();
  /** The entries this run took (readingOrder lists the refresh lane's head twice): one claim each, not a second that fails. */
  readonly #seen = new Set<string>();
  /** Per app, whether it reuses TaskIds: read from the archive once a run. */
  readonly #appReuse = new Map<string, Promise<boolean>>();
  /** Time since each refreshed run was asked before (the first POLL_MEMORY of them, for the median), and the largest. */
  readonly #refreshIntervals: number[] = [];
  #longestRefresh = 0;

  constructor(
    readonly options: ArchiverOptions,
    /** The decisions' policy for this run (its refresh interval chosen from the load). */
    readonly policy: DecisionPolicy,
    readonly summary: ArchiveRunSummary,
    readonly hold: TickHold,
    /** The stores for reads and claims: their requests cut at the run's deadline (see the top of this file). */
    readonly reads: ArchiveAccess<WatchRegistry> = options,
  ) {}

  /** True the first time this run meets `entry`. */
  firstSight(entry: DueEntry): boolean {
    const key = `${addressKey(entry.address)}\n${entrySortKey(entry)}`;
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    return true;
  }

  summariseRefreshes(): void {
    const sorted = this.#refreshIntervals.sort((a, b) => a - b);
    if (sorted.length) this.summary.refreshIntervalMs = { p50: sorted[Math.floor(sorted.length / 2)]!, max: this.#longestRefresh };
  }

  /** A run asked again: how long since it was asked before (its previous claim; a figure, never used to order data). */
  #refreshed(entry: RegistryEntry, now: number): void {
    if (entry.kind !== 'run' || entry.state !== 'known' || entry.lane === 'first') return;
    this.summary.refreshes++;
    // Since its last ask (claims in between, while asks are spaced, did not ask), else its previous claim (an entry written
    // before asks kept their tick); never claimed before: registered by the lookup or the archiver that captured it then.
    const interval = Math.max(0, now - (entry.askedTick ?? entry.previousClaimAt ?? entry.registeredAt));
    this.#longestRefresh = Math.max(this.#longestRefresh, interval);
    if (this.#refreshIntervals.length < POLL_MEMORY) this.#refreshIntervals.push(interval);
  }

  kept(deadline: number): void {
    const left = this.summary.oldestDeadlineLeft;
    this.summary.oldestDeadlineLeft = left === undefined ? deadline : Math.min(left, deadline);
  }

  /**
   * One entry by the run's deadline; false when the run must end (its work ran into the deadline: what
   * it was reading is cut, what it was writing goes on unawaited, see the top of this file).
   */
  async bounded(entry: DueEntry, takenAt: number): Promise<boolean> {
    const { options, summary } = this;
    const signal = options.deadline?.signal;
    try {
      const work = this.process(entry, takenAt);
      await untilDeadline(options)(work, () => new OutOfTime(ENTRY_OUT_OF_TIME));
      return true;
    } catch (error) {
      // A request the deadline cut may fail the work first: past the deadline, the entry ran out of time all the same.
      const outOfTime = error instanceof OutOfTime || signal?.aborted === true;
      summary.errors++;
      this.kept(entry.deadline);
      options.onError?.(outOfTime && !(error instanceof OutOfTime) ? new OutOfTime(ENTRY_OUT_OF_TIME, { cause: error }) : error, entry);
      if (outOfTime) summary.stoppedEarly = true;
      return !outOfTime;
    }
  }

  /**
   * Claims the entry, asks Volcengine (once per address per run) and applies the plan. A store
   * call that fails is tried once more within the run: every step is idempotent, and the entry
   * keeps its claim for this tick.
   */
  async process(due: DueEntry, takenAt: number): Promise<void> {
    const { options } = this;
    // The claim records takenAt (this run's progress is kept in those terms); taking the tick over from an invocation
    // that died, it takes back what that one claimed after its last record of progress.
    // Cut at the deadline: nothing is observed yet, and a cut claim leaves what one that died there leaves.
    const entry = await twice(() =>
      this.reads.registry.claim(due, options.tick, options.owner, takenAt, dueAfterClaim(due, takenAt, this.policy), this.hold.inherit),
    );
    if (!entry) return; // retired, moved, or taken by another invocation of this tick
    const expired = beforePoll(entry, options.now());
    if (expired) return twice(() => this.apply(entry, expired, undefined));
    const waits = await this.#waitsToAsk(entry);
    if (waits) return twice(() => this.apply(entry, waits, undefined));
    this.#refreshed(entry, takenAt);
    const polled = await this.poll(entry.address, entry.deadline);
    if ('unavailable' in polled) {
      // Left as claimed: due again when the claim said.
      this.kept(entry.deadline);
      if (polled.unavailable === 'failed') throw polled.error;
      return;
    }
    await this.#learnReuse(entry, polled.observation);
    const plan = decide(entry, polled.observation, options.now(), this.policy);
    return twice(() => this.apply(entry, plan, polled.requestId));
  }

  /** While asks are spaced: a plan that leaves a run of an app not seen reusing TaskIds unasked (decision.ts: waitsToAsk). */
  async #waitsToAsk(entry: RegistryEntry): Promise<Plan | undefined> {
    const now = this.options.now();
    // Only what could wait needs the app's mark: most entries ask without reading it.
    if (!waitsToAsk(entry, now, this.policy, false)) return undefined;
    const appReuses = await this.#appReuses(entry.address.appId).catch(() => undefined);
    return waitsToAsk(entry, now, this.policy, appReuses);
  }

  /**
   * Marks the entry's app as reusing TaskIds when the answer shows a TaskId of it with two runs, or,
   * while asks are spaced and the app is not marked, the archive's run index holds another run of
   * the TaskId shown (looked for on every such ask, so a mark that failed or a deployment that came
   * after the TaskId's earlier run is made up on the next one). The mark lets every run of the app
   * be asked on the next tick that finds it due. A failure leaves it for a later ask.
   */
  async #learnReuse(entry: RegistryEntry, observation: Observation): Promise<void> {
    try {
      if (showsReuse(entry, observation)) return await this.#markReuse(entry.address);
      if (observation.kind !== 'shown' || isTerminalStatus(observation.task.Status) || !spacesAsks(this.policy)) return;
      if (await this.#appReuses(entry.address.appId)) return;
      if (await this.reads.archive.hasOtherRun(runOf(entry.address, observation.task.StartTime))) await this.#markReuse(entry.address);
    } catch {
      // Not marked yet: the next ask of one of the app's runs looks again.
    }
  }

  #appReuses(appId: string): Promise<boolean> {
    let reuses = this.#appReuse.get(appId);
    if (!reuses) {
      reuses = this.reads.archive.reusesTaskIds(appId);
      reuses.catch(() => this.#appReuse.delete(appId));
      this.#appReuse.set(appId, reuses);
    }
    return reuses;
  }

  /** Marks the app as reusing TaskIds, unless it is marked already (one PUT per app, ever, give or take a race). */
  async #markReuse(address: TaskAddress): Promise<void> {
    if (await this.#appReuses(address.appId)) return;
    this.#appReuse.set(address.appId, Promise.resolve(true));
    await this.options.archive.markReusesTaskIds(address, this.options.now());
  }

  poll(address: TaskAddress, priority: number): Promise<Polled> {
    const key = taskIdentity(address);
    let polled = this.#polls.get(key);
    if (!polled) {
      polled = this.#ask(address, priority);
      if (this.#polls.size >= POLL_MEMORY) this.#polls.delete(this.#polls.keys().next().value!);
      this.#polls.set(key, polled);
    }
    return polled;
  }

  async #ask(address: TaskAddress, priority: number): Promise<Polled> {
    const { options, summary } = this;
    try {
      const call = { timeoutMs: options.callTimeoutMs, priority, signal: options.deadline?.signal };
      const answer = await options.upstream.getSegmentTask(options.version, address, call);
      summary.tasksPolled++;
      const observation = observe(answer.task, options.now());
      if (observation.kind === 'not-shown') summary.notFound++;
      return { observation, requestId: answer.requestId };
    } catch (error) {
      if (error instanceof VolcBudgetExhaustedError || (error instanceof VolcApiError && error.throttled)) {
        summary.throttled++;
        return { unavailable: 'throttled', error };
      }
      const code = refusalCode(error);
      if (code === undefined) return { unavailable: 'failed', error };
      summary.tasksPolled++;
      summary.refused++;
      return { observation: { kind: 'refused', code }, requestId: (error as VolcApiError).upstream.requestId };
    }
  }

  /** The plan's steps in order; the entry itself goes last, so a crash before leaves it for the next tick. */
  async apply(entry: RegistryEntry, plan: Plan, requestId: string | undefined): Promise<void> {
    const { options, summary } = this;
    const now = options.now();
    const terminal = plan.record ? await this.#record(entry, plan.record, requestId, now) : false;
    if (plan.register) await options.registry.registerRun(entry.address, plan.register.startTime, 'archiver', now, plan.register.due);
    if (
      plan.unfinished &&
      (await options.archive.markUnfinished(runOf(entry.address, plan.unfinished.startTime), plan.unfinished.outcome, now))
    ) {
      if (plan.unfinished.outcome === 'superseded') summary.runsSuperseded++;
      else summary.finalSnapshotsMissed++;
    }
    if (plan.unanswered) {
      const announced = entry.kind === 'run' ? entry.startTime : undefined;
      await options.archive.recordUnanswered(
        entry.address,
        { ...plan.unanswered, registeredAt: entry.registeredAt, announcedStartTime: announced },
        now,
      );
    }
    const step = plan.entry;
    if (step.kind === 'retire' || (step.kind === 'retire-if-terminal' && terminal)) return this.#retire(entry);
    if (step.kind === 'leave') {
      if (step.drift !== undefined) {
        summary.schemaDrift++;
        options.onSchemaDrift?.(step.drift, entry);
      }
      return this.kept(entry.deadline);
    }
    await this.#reschedule(entry, step.kind === 'reschedule' ? step.change : step.otherwise);
  }

  /** Archives an observation; true when the run's stored latest state is terminal afterwards. */
  async #record(entry: RegistryEntry, record: NonNullable<Plan['record']>, requestId: string | undefined, now: number): Promise<boolean> {
    const recorded = await this.options.archive.record(runOf(entry.address, record.startTime), {
      task: record.task,
      capturedAt: now,
      source: 'archiver',
      final: record.final,
      upstreamRequestId: requestId,
    });
    if (recorded.outcome === 'written') {
      this.summary.snapshotsWritten++;
      if (recorded.previous)
        this.summary.archiveLagMs = Math.max(this.summary.archiveLagMs, now - Date.parse(recorded.previous.CapturedAt));
    }
    return isTerminalStatus(recorded.latest.SegmentTask.Status);
  }

  async #retire(entry: RegistryEntry): Promise<void> {
    if (await this.options.registry.retire(entry, this.options.tick)) this.summary.tasksRetired++;
    else this.kept(entry.deadline);
  }

  /** Writes only a change: a known run polled on every tick keeps its due time without a write. */
  async #reschedule(entry: RegistryEntry, change: EntryChange): Promise<void> {
    this.kept(entry.deadline);
    const same =
      change.dueAt === entry.dueAt &&
      (change.lane === undefined || change.lane === entry.lane) &&
      change.state === undefined &&
      change.activity === undefined &&
      (change.refused === undefined || (change.refused === null && !entry.refused)) &&
      (change.askedTick === undefined || change.askedTick === entry.askedTick) &&
      (change.intervalMs === undefined || change.intervalMs === (entry.intervalMs ?? null));
    if (!same) await this.options.registry.reschedule(entry, this.options.tick, change);
  }
}
