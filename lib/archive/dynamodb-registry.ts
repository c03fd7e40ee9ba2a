/**
 * The watch registry on DynamoDB, the archiver's side: the registrations of
 * lib/archive/dynamodb-registrations.ts, plus the tick lease, the due index, claims, reschedules and
 * retirements. The sparse global index `due` (dueShard, dueAt) lists the entries by the time they
 * are next due, one partition per lane (registry.ts: LANES), so the archiver reads only what it is
 * about to poll, lane by lane, never the whole registry. Each
 * method is one request, each transition one conditional write; the races each condition settles are
 * described beside it. DynamoDB's TTL (expiresAt) removes an entry no archiver retired, long after
 * its deadline.
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type GetItemCommandOutput,
  type QueryCommandInput,
  type QueryCommandOutput,
  type ScanCommandOutput,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { DynamoDbRegistrations, isConditionFailure, N, namesIn, num, S, str, type Item } from './dynamodb-registrations.ts';
import {
  parseAddressKey,
  LANES,
  noLanes,
  parseEntrySortKey,
  TICK_LEASE_MS,
  type Lane,
  type DueEntry,
  type DueStretch,
  type EntryChange,
  type EntryRef,
  type Page,
  type PageCursor,
  type RegistrationVia,
  type RegistryEntry,
  type RegistryState,
  type Inheritance,
  type TickHold,
  type WatchRegistry,
} from './registry.ts';
import { DUE_INDEX, LANE_PARTITION, laneOfPartition } from './registry-table.ts';

/** Where a read of the due index stopped: a stretch (its place in the order read) and the key to go on after. */
interface DueCursor {
  stretch: number;
  key: Item | undefined;
}

const TICK_KEY = { pk: { S: '~archiver' }, sk: { S: 'tick' } };

/**
 * Condition parts, named for what they guard.
 *   exists         the entry was not retired meanwhile
 *   due            it is due at the claimant's `now` (a concurrent reschedule moved it away)
 *   unclaimedTick  no invocation of this schedule tick (or a later one) took it: a duplicate
 *                  delivery of the schedule, running alongside, polls nothing twice
 *   inherited      or the invocation this one took the tick over from (dead: Lambda retried it,
 *                  or its lease ran out) claimed it,
 *   claimedSince   after its last record of progress (claim times on that invocation's own
 *                  clock, compared with its own record), so may not have finished it
 *   heldByTick     the claimant still holds it: no later tick, nor an heir of this one, took it
 *                  while it worked
 *   sameGeneration no registration came after the claim (it may name a newer run)
 */
const CONDITION = {
  exists: 'attribute_exists(#pk)',
  due: '#dueAt <= :now',
  unclaimedTick: '(attribute_not_exists(#polledTick) OR #polledTick < :tick)',
  inherited: '(#polledTick = :tick AND #claimedBy = :inheritFrom)',
  claimedSince: '#claimedAt >= :claimedSince',
  heldByTick: '(#polledTick = :tick AND #claimedBy = :claimedBy)',
  sameGeneration: '#generation = :generation',
} as const;
const all = (...parts: string[]) => parts.join(' AND ');

/**
 * Parts of the tick item's condition.
 *   newer   it holds an older schedule tick, or none
 *   open    it holds this tick, which has not ended
 *   ours    held by this invocation (a Lambda retry keeps the request id)
 *   lapsed  its holder stopped renewing the lease: presumed dead
 *   heldBy  (a takeover) still held by the holder read just before, whose progress mark is inherited
 */
const TICK_CONDITION = {
  newer: '(attribute_not_exists(#tick) OR #tick < :tick)',
  open: '(#tick = :tick AND attribute_not_exists(#ended))',
  ours: '#owner = :owner',
  lapsed: '#leaseUntil < :now',
  heldBy: '#owner = :heldBy',
} as const;

// No #private member: a view made by cutBy (lib/archive/access.ts), whose requests a run's deadline cuts, reads them through its prototype.
export class DynamoDbRegistry extends DynamoDbRegistrations implements WatchRegistry {
  /**
   * The tick item { tick, owner, leaseUntil, ended, claimedBefore }. A duplicate delivery of the tick reads it and
   * stops, at the cost of one read; two deliveries reading at the same instant both try the
   * conditional write and one wins. The lease compares times written by different instances'
   * clocks: it decides only when a silent holder is presumed dead (a minute, far above any skew),
   * never what data means.
   */
  async beginTick(tick: number, owner: string, now: number): Promise<TickHold | undefined> {
    const current = await this.read<GetItemCommandOutput>(
      new GetItemCommand({ TableName: this.table, Key: TICK_KEY, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
    );
    const held = current.Item;
    const heldTick = held && num(held, 'tick');
    const heldBy = held && str(held, 'owner');
    if (heldTick !== undefined && heldTick > tick) return undefined;
    if (heldTick === tick && (held!.ended?.BOOL || (heldBy !== owner && (num(held!, 'leaseUntil') ?? 0) >= now))) return undefined;
    const { newer, open, ours, lapsed, heldBy: sameHolder } = TICK_CONDITION;
    // A takeover is conditional on the holder read above: its progress mark is the one this heir trusts.
    const takeover = heldTick === tick;
    const condition = takeover ? `${open} AND (${ours} OR ${lapsed}) AND ${sameHolder}` : newer;
    const expression = 'SET #tick = :tick, #owner = :owner, #leaseUntil = :leaseUntil REMOVE #ended, #claimedBefore';
    const taken = await this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: TICK_KEY,
        UpdateExpression: expression,
        ConditionExpression: condition,
        ExpressionAttributeNames: namesIn(expression, condition),
        ExpressionAttributeValues: {
          ':tick': N(tick),
          ':owner': S(owner),
          ':leaseUntil': N(now + TICK_LEASE_MS),
          ...(takeover ? { ':now': N(now), ':heldBy': S(heldBy ?? '') } : {}),
        },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    if (!taken) return undefined;
    return takeover ? { inherit: { from: heldBy ?? '', claimedSince: num(held!, 'claimedBefore') ?? Number.NEGATIVE_INFINITY } } : {};
  }

  async renewTick(tick: number, owner: string, now: number, claimedBefore?: number): Promise<boolean> {
    const values: Item = { ':leaseUntil': N(now + TICK_LEASE_MS) };
    if (claimedBefore === undefined) return this.tickWrite('SET #leaseUntil = :leaseUntil', tick, owner, values);
    const expression = 'SET #leaseUntil = :leaseUntil, #claimedBefore = :claimedBefore';
    return this.tickWrite(expression, tick, owner, { ...values, ':claimedBefore': N(claimedBefore) });
  }

  async endTick(tick: number, owner: string): Promise<void> {
    await this.tickWrite('SET #ended = :ended', tick, owner, { ':ended': { BOOL: true } });
  }

  /** A write to the tick item by its holder only. */
  private tickWrite(expression: string, tick: number, owner: string, values: Item): Promise<boolean> {
    const condition = '#tick = :tick AND #owner = :owner';
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: TICK_KEY,
        UpdateExpression: expression,
        ConditionExpression: condition,
        ExpressionAttributeNames: namesIn(expression, condition),
        ExpressionAttributeValues: { ':tick': N(tick), ':owner': S(owner), ...values },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  }

  /** One Query of a stretch per page; a stretch read to its end goes on with the next stretch's first page. */
  async duePage(order: readonly DueStretch[], after?: PageCursor): Promise<Page<DueEntry>> {
    let { stretch, key } = (after as DueCursor | undefined) ?? { stretch: 0, key: undefined };
    for (; stretch < order.length; stretch++, key = undefined) {
      const answer = await this.dueQuery(order[stretch]!, { Limit: this.pageSize, ...(key ? { ExclusiveStartKey: key } : {}) });
      const items = (answer.Items ?? []).map(dueEntryOf).filter((entry): entry is DueEntry => entry !== undefined);
      const next: DueCursor | undefined = answer.LastEvaluatedKey
        ? { stretch, key: answer.LastEvaluatedKey }
        : stretch + 1 < order.length
          ? { stretch: stretch + 1, key: undefined }
          : undefined;
      if (items.length > 0 || answer.LastEvaluatedKey) return { items, next };
    }
    return { items: [], next: undefined };
  }

  /** Counts with Select COUNT, a lane at a time (1 MB of index items per page). */
  async dueCount(now: number, lanes: readonly Lane[] = LANES): Promise<Record<Lane, number>> {
    const counts = noLanes();
    for (const lane of lanes) {
      let key: Item | undefined;
      do {
        const answer = await this.dueQuery({ lane, until: now }, { Select: 'COUNT', ...(key ? { ExclusiveStartKey: key } : {}) });
        counts[lane] += answer.Count ?? 0;
        key = answer.LastEvaluatedKey;
      } while (key);
    }
    return counts;
  }

  /** A lane's index items due by the stretch's `until` (its `closingBy` is for the reader: the index is ordered by due time only). */
  private dueQuery({ lane, until }: DueStretch, page: Partial<QueryCommandInput>): Promise<QueryCommandOutput> {
    return this.read<QueryCommandOutput>(
      new QueryCommand({
        TableName: this.table,
        IndexName: DUE_INDEX,
        KeyConditionExpression: '#dueShard = :dueShard AND #dueAt <= :until',
        ExpressionAttributeNames: { '#dueShard': 'dueShard', '#dueAt': 'dueAt' },
        ExpressionAttributeValues: {
          ':dueShard': S(LANE_PARTITION[lane]),
          ':until': N(until),
        },
        ReturnConsumedCapacity: 'TOTAL',
        ...page,
      }),
    );
  }

  /**
   * Sets the claim's tick and the entry's next due time, and answers the entry as it is now (a
   * registration may have changed it since the index was read).
   */
  async claim(
    ref: EntryRef,
    tick: number,
    owner: string,
    now: number,
    dueAt: number,
    inherit?: Inheritance,
  ): Promise<RegistryEntry | undefined> {
    // An heir of a holder that recorded no progress (-Infinity) takes back all its claims.
    const since = inherit !== undefined && Number.isFinite(inherit.claimedSince);
    const inherited = since ? `(${CONDITION.inherited} AND ${CONDITION.claimedSince})` : CONDITION.inherited;
    const claimable = inherit === undefined ? CONDITION.unclaimedTick : `(${CONDITION.unclaimedTick} OR ${inherited})`;
    const condition = all(CONDITION.exists, CONDITION.due, claimable);
    const expression = 'SET #polledTick = :tick, #claimedBy = :owner, #claimedAt = :now, #dueAt = :dueAt';
    try {
      const answer = await this.write<UpdateItemCommandOutput>(
        new UpdateItemCommand({
          TableName: this.table,
          Key: this.key(ref),
          UpdateExpression: expression,
          ConditionExpression: condition,
          ExpressionAttributeNames: namesIn(expression, condition),
          ExpressionAttributeValues: {
            ':tick': N(tick),
            ':owner': S(owner),
            ':now': N(now),
            ':dueAt': N(dueAt),
            ...(inherit === undefined ? {} : { ':inheritFrom': S(inherit.from) }),
            ...(since ? { ':claimedSince': N(inherit.claimedSince) } : {}),
          },
          // The entry as it was: with this claim's values set, it is the entry now, and it tells when it was claimed before.
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      const before = answer.Attributes ? entryOf(answer.Attributes) : undefined;
      return before && { ...before, polledTick: tick, claimedBy: owner, claimedAt: now, dueAt, previousClaimAt: before.claimedAt };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** Only the claimant writes: a later tick that took the entry (a run that overlapped this one) decides instead. */
  async reschedule(entry: RegistryEntry, tick: number, change: EntryChange): Promise<boolean> {
    const set = ['#dueAt = :dueAt'];
    const values: Item = { ':dueAt': N(change.dueAt), ':tick': N(tick), ':claimedBy': S(entry.claimedBy ?? '') };
    if (change.lane) {
      set.push('#dueShard = :dueShard');
      values[':dueShard'] = S(LANE_PARTITION[change.lane]);
    }
    const remove: string[] = [];
    if (change.state) {
      set.push('#state = :state');
      values[':state'] = S(change.state);
    }
    if (change.refused) {
      set.push('#refusedCode = :refusedCode', '#refusedSince = if_not_exists(#refusedSince, :refusedSince)');
      Object.assign(values, { ':refusedCode': S(change.refused.code), ':refusedSince': N(change.refused.since) });
    } else if (change.refused === null) remove.push('#refusedCode', '#refusedSince');
    if (change.activity) {
      set.push('#watchBurst = :watchBurst', '#watchEndsAfter = :watchEndsAfter');
      Object.assign(values, { ':watchBurst': N(change.activity.burstSeen), ':watchEndsAfter': N(change.activity.endsAfterMs) });
    } else if (change.activity === null) remove.push('#watchBurst', '#watchEndsAfter');
    if (change.askedTick !== undefined) {
      set.push('#askedTick = :askedTick');
      values[':askedTick'] = N(change.askedTick);
    }
    if (typeof change.intervalMs === 'number') {
      set.push('#intervalMs = :intervalMs');
      values[':intervalMs'] = N(change.intervalMs);
    } else if (change.intervalMs === null) remove.push('#intervalMs');
    const expression = `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`;
    const condition = all(CONDITION.exists, CONDITION.heldByTick);
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(entry),
        UpdateExpression: expression,
        ConditionExpression: condition,
        ExpressionAttributeNames: namesIn(expression, condition),
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  }

  /**
   * A run's entry goes once its run is archived final (or its window closed): a registration of
   * the same run racing it changes nothing worth keeping. A pending entry goes only if no callback
   * or watch came after the claim: that one may be about a newer run, and the entry stays due.
   */
  async retire(entry: RegistryEntry, tick: number): Promise<boolean> {
    const pending = entry.kind === 'pending';
    const condition = pending ? all(CONDITION.heldByTick, CONDITION.sameGeneration) : CONDITION.heldByTick;
    return this.conditional(
      new DeleteItemCommand({
        TableName: this.table,
        Key: this.key(entry),
        ConditionExpression: condition,
        ExpressionAttributeNames: namesIn(condition),
        ExpressionAttributeValues: {
          ':tick': N(tick),
          ':claimedBy': S(entry.claimedBy ?? ''),
          ...(pending ? { ':generation': N(entry.generation) } : {}),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  }

  async entriesPage(after?: PageCursor): Promise<Page<RegistryEntry>> {
    const answer = await this.read<ScanCommandOutput>(
      new ScanCommand({
        TableName: this.table,
        ...(after === undefined ? {} : { ExclusiveStartKey: after as Item }),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    const items = (answer.Items ?? []).map(entryOf).filter((entry): entry is RegistryEntry => entry !== undefined);
    return { items, next: answer.LastEvaluatedKey };
  }
}

function refOf(item: Item): EntryRef | undefined {
  const address = parseAddressKey(str(item, 'pk') ?? '');
  const sort = parseEntrySortKey(str(item, 'sk') ?? '');
  return address && sort ? { address, ...sort } : undefined;
}

function dueEntryOf(item: Item): DueEntry | undefined {
  const ref = refOf(item);
  const dueAt = num(item, 'dueAt');
  const deadline = num(item, 'deadline');
  const state = (str(item, 'state') ?? 'unknown') as RegistryState;
  const lane = laneOfPartition(str(item, 'dueShard'));
  return ref && dueAt !== undefined && deadline !== undefined ? { ...ref, dueAt, lane, deadline, state } : undefined;
}

function entryOf(item: Item): RegistryEntry | undefined {
  const due = dueEntryOf(item);
  if (!due) return undefined;
  const refusedCode = str(item, 'refusedCode');
  const watchBurst = num(item, 'watchBurst');
  return {
    ...due,
    registeredAt: num(item, 'registeredAt') ?? 0,
    via: (str(item, 'via') ?? 'archiver') as RegistrationVia,
    generation: num(item, 'generation') ?? 0,
    polledTick: num(item, 'polledTick'),
    claimedBy: str(item, 'claimedBy'),
    claimedAt: num(item, 'claimedAt'),
    refused: refusedCode === undefined ? undefined : { code: refusedCode, since: num(item, 'refusedSince') ?? 0 },
    lastSeenAt: num(item, 'lastSeenAt'),
    burstFrom: num(item, 'burstFrom'),
    activity: watchBurst === undefined ? undefined : { burstSeen: watchBurst, endsAfterMs: num(item, 'watchEndsAfter') ?? 0 },
    askedTick: num(item, 'askedTick'),
    intervalMs: num(item, 'intervalMs'),
  };
}
