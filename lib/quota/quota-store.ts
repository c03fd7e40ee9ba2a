/**
 * The quota in DynamoDB: one item, { pk: "quota", lookup, archiver, demand, stamp, expiresAt }, holding
 * both shares' frontiers, the archiver's demand marker and the last writer's stamp, all in fleet
 * time (lib/quota/slots.ts). Each slot is taken with one conditional UpdateItem that returns the
 * item as it was, whether the write went through (ReturnValues) or its condition failed
 * (ReturnValuesOnConditionCheckFailure): no read before a write. expiresAt (the table's TTL
 * attribute) lets DynamoDB drop the item of a quota no longer used. The DynamoDB client is
 * imported on the first call, so that a function's cold start does not load it (a lookup without
 * QUOTA_TABLE never does; one with it does while it joins the fleet, at cold start).
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { QuotaState, Share } from './slots.ts';

const EXPIRES_AFTER_S = 86_400;
const KEY = { pk: { S: 'quota' } };

/** One conditional write: take a share's slot(s). Times are fleet time. */
export interface TakeRequest {
  share: Share;
  /** `advance`: take the frontier's slot, if it lies in [now, latest]; `restart`: take `at`, if the frontier lies before now. */
  op: 'advance' | 'restart';
  spanMs: number;
  /** The writer's fleet time, read just before it wrote: the conditions' now, and the item's stamp (see ratchetOffset). */
  now: number;
  /** `restart`: the first slot taken (now, or when the write's answer is expected); `advance`: unused. */
  at: number;
  latest: number;
  /** The write fails when the item's stamp is further ahead of `now` than this: fleet time never moves back. */
  stampToleranceMs?: number;
  /** Only while the archiver has no due work: no demand marker, or one before now. */
  whenNoDemand?: boolean;
  /** Sets the archiver's demand marker to this time. */
  demandUntil?: number | undefined;
}

export interface TakeResult {
  taken: boolean;
  /** The item as it was just before the write (or the failed condition); undefined when there was none. */
  before: QuotaState | undefined;
}

/** The store port. */
export interface QuotaStore {
  take(request: TakeRequest, signal: AbortSignal): Promise<TakeResult>;
  /**
   * An instance joins: stamps the item with its fleet time and moves both frontiers `pushMs`
   * forward (see joinPushMs), unless the item's stamp is more than `toleranceMs` ahead of its own.
   */
  join(pushMs: number, stamp: number, toleranceMs: number, signal: AbortSignal): Promise<TakeResult>;
  /** The item as it is (a consistent read). */
  read(signal: AbortSignal): Promise<QuotaState | undefined>;
}

/**
 * The named parts of the conditions. The race they settle: many instances write the item at once,
 * each from the state it saw last; DynamoDB applies the writes one at a time and checks each
 * condition against the item as the previous write left it, so no slot is given twice, an idle
 * share is restarted by one writer only, and a lookup loses its claim on the archiver's reserve
 * the moment the archiver's demand marker is written.
 */
const CONDITION = {
  /** The share is busy: its next slot is not in the past (a missing frontier compares false). */
  frontierNotPast: '#share >= :now',
  /** Its next slot is soon enough for the caller. */
  frontierWithinWait: '#share <= :latest',
  /** The share is idle: its next slot lies in the past, or it never had one. */
  frontierPast: '(attribute_not_exists(#share) OR #share < :now)',
  /** The archiver has no due work. */
  noDemand: '(attribute_not_exists(#demand) OR #demand < :now)',
  /**
   * The writer's fleet time is not behind the item's stamp (give or take the tolerance): a writer
   * whose clock lags a newer instance's has its write refused with the item, learns fleet time
   * from its stamp, and writes again; a stamp is never overwritten by a much older one.
   */
  stampNotAhead: '(attribute_not_exists(#stamp) OR #stamp <= :stampLimit)',
};

const number = (value: number): AttributeValue => ({ N: String(Math.round(value * 1000) / 1000) });
const expiresAt = (now: number) => number(Math.floor(now / 1000) + EXPIRES_AFTER_S);
const read = (item: Record<string, AttributeValue> | undefined, name: string) =>
  item?.[name]?.N === undefined ? undefined : Number(item[name].N);

export function stateOf(item: Record<string, AttributeValue> | undefined): QuotaState | undefined {
  if (!item) return undefined;
  return { lookup: read(item, 'lookup'), archiver: read(item, 'archiver'), demand: read(item, 'demand'), stamp: read(item, 'stamp') };
}

/** The UpdateItem parameters of a take (pure, for the store and its tests). */
export function takeUpdate(request: TakeRequest) {
  const { op, spanMs, now, at, latest, whenNoDemand, demandUntil } = request;
  const sets = ['#stamp = :now', '#expires = :expires'];
  const values: Record<string, AttributeValue> = { ':now': number(now), ':expires': expiresAt(now) };
  const conditions = op === 'advance' ? [CONDITION.frontierNotPast, CONDITION.frontierWithinWait] : [CONDITION.frontierPast];
  if (op === 'advance') Object.assign(values, { ':latest': number(latest), ':span': number(spanMs) });
  else {
    sets.unshift('#share = :next');
    values[':next'] = number(at + spanMs);
  }
  conditions.push(CONDITION.stampNotAhead);
  values[':stampLimit'] = number(now + (request.stampToleranceMs ?? 0));
  if (whenNoDemand) conditions.push(CONDITION.noDemand);
  if (demandUntil !== undefined) {
    sets.push('#demand = :demand');
    values[':demand'] = number(demandUntil);
  }
  const usesDemand = whenNoDemand || demandUntil !== undefined;
  return {
    UpdateExpression: `${op === 'restart' ? '' : 'ADD #share :span '}SET ${sets.join(', ')}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: {
      '#share': request.share,
      '#stamp': 'stamp',
      '#expires': 'expiresAt',
      ...(usesDemand ? { '#demand': 'demand' } : {}),
    },
    ExpressionAttributeValues: values,
  };
}

type Sdk = typeof import('@aws-sdk/client-dynamodb');
type StoreOptions = { endpoint?: string | undefined; region?: string | undefined; userAgent?: string | undefined };

export class DynamoDbQuotaStore implements QuotaStore {
  readonly #options: StoreOptions;
  /** The SDK and the client, from the first call on (a failed import is tried again by the next call). */
  #opened: Promise<{ sdk: Sdk; client: DynamoDBClient }> | undefined;

  constructor(
    readonly table: string,
    options: StoreOptions = {},
  ) {
    this.#options = options;
  }

  #open(): Promise<{ sdk: Sdk; client: DynamoDBClient }> {
    const { endpoint, region, userAgent } = this.#options;
    this.#opened ??= import('@aws-sdk/client-dynamodb').then(
      (sdk) => {
        const client = new sdk.DynamoDBClient({
          ...(endpoint ? { endpoint } : {}),
          ...(region ? { region } : {}),
          // Names the calling function in CloudTrail's userAgent.
          ...(userAgent ? { customUserAgent: userAgent } : {}),
          // Throttling is retried by the limiter, within its caller's budget.
          maxAttempts: 1,
        });
        return { sdk, client };
      },
      (error: unknown) => {
        this.#opened = undefined;
        throw error;
      },
    );
    return this.#opened;
  }

  async take(request: TakeRequest, signal: AbortSignal): Promise<TakeResult> {
    const { sdk, client } = await this.#open();
    try {
      const answer = await client.send(
        new sdk.UpdateItemCommand({
          TableName: this.table,
          Key: KEY,
          ...takeUpdate(request),
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        { abortSignal: signal },
      );
      return { taken: true, before: stateOf(answer.Attributes) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // DynamoDB returns the item with the failure; a store that does not (or no item) costs a read.
      const item = (error as { Item?: Record<string, AttributeValue> }).Item;
      return { taken: false, before: item ? stateOf(item) : await this.read(signal) };
    }
  }

  async join(pushMs: number, stamp: number, toleranceMs: number, signal: AbortSignal): Promise<TakeResult> {
    const { sdk, client } = await this.#open();
    try {
      const answer = await client.send(
        new sdk.UpdateItemCommand({
          TableName: this.table,
          Key: KEY,
          // A missing frontier is created at pushMs, which lies long in the past. Unconditional on the frontiers: a push
          // computed from an older stamp than the item holds by now is larger than needed, never too small.
          UpdateExpression: 'ADD #lookup :push, #archiver :push SET #stamp = :now, #expires = :expires',
          ConditionExpression: CONDITION.stampNotAhead,
          ExpressionAttributeNames: { '#lookup': 'lookup', '#archiver': 'archiver', '#stamp': 'stamp', '#expires': 'expiresAt' },
          ExpressionAttributeValues: {
            ':push': number(pushMs),
            ':now': number(stamp),
            ':stampLimit': number(stamp + toleranceMs),
            ':expires': expiresAt(stamp),
          },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
        { abortSignal: signal },
      );
      return { taken: true, before: stateOf(answer.Attributes) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const item = (error as { Item?: Record<string, AttributeValue> }).Item;
      return { taken: false, before: item ? stateOf(item) : await this.read(signal) };
    }
  }

  async read(signal: AbortSignal): Promise<QuotaState | undefined> {
    const { sdk, client } = await this.#open();
    const answer = await client.send(new sdk.GetItemCommand({ TableName: this.table, Key: KEY, ConsistentRead: true }), {
      abortSignal: signal,
    });
    return stateOf(answer.Item);
  }
}

const isConditionFailure = (error: unknown) => (error as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

/** DynamoDB's answers that mean "too fast, try again": retried within the caller's budget, never a fallback. */
export function isTableThrottling(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === 'ProvisionedThroughputExceededException' || name === 'ThrottlingException' || name === 'RequestLimitExceeded';
}
