/**
 * Registrations in the watch registry on DynamoDB (the stack's RegistryTable; its schema is in
 * lib/archive/registry-table.ts): what the lookup and callback functions write, on their own so
 * they load nothing of the archiver's side (lib/archive/dynamodb-registry.ts extends this). One
 * item per entry: pk = AppId/RoomId/TaskId, sk = run#{StartTime} | pending; each registration is
 * one upsert that bumps the entry's generation.
 */
import { awsClientConfig } from '../aws-client.ts';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  UpdateItemCommand,
  type AttributeValue,
  type ConsumedCapacity,
  type DeleteItemCommand,
  type GetItemCommand,
  type QueryCommand,
  type ScanCommand,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type { TaskAddress } from '../volc/schemas.ts';
import {
  addressKey,
  entrySortKey,
  EXPIRY_GRACE_MS,
  PENDING_LIFETIME_MS,
  PENDING_LANE,
  runRegistration,
  type FirstDue,
  type EntryRef,
  type RegisterOutcome,
  type RegistrationVia,
  type Registrations,
  type RegistryState,
} from './registry.ts';
import { LANE_PARTITION } from './registry-table.ts';

export interface DynamoDbRegistryOptions {
  table: string;
  endpoint?: string | undefined;
  region: string;
  /** Names the calling function in CloudTrail's userAgent. */
  userAgent?: string | undefined;
  /** Attempts per request (the SDK's standard retries: throttling, 5xx, network errors). */
  maxAttempts?: number;
  /** Per-attempt time limit. */
  requestTimeoutMs?: number;
  /** Entries per page of the due index (100). */
  pageSize?: number;
}

/** Requests made and capacity consumed since the registry was built, for measurements. */
export interface RegistryUsage {
  reads: number;
  writes: number;
  readUnits: number;
  writeUnits: number;
}

export type Item = Record<string, AttributeValue>;
export const N = (value: number): AttributeValue => ({ N: String(value) });
export const S = (value: string): AttributeValue => ({ S: value });
export const num = (item: Item, name: string): number | undefined => (item[name]?.N === undefined ? undefined : Number(item[name].N));
export const str = (item: Item, name: string): string | undefined => item[name]?.S;
const expiresAt = (deadline: number) => N(Math.ceil((deadline + EXPIRY_GRACE_MS) / 1000));

/** Every attribute is named through a #placeholder (several of ours, like state, are reserved words in DynamoDB). */
export function namesIn(...expressions: string[]): Record<string, string> {
  return Object.fromEntries([...expressions.join(' ').matchAll(/#(\w+)/g)].map((m) => [`#${m[1]!}`, m[1]!]));
}

export function isConditionFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/**
 * The condition of a callback's sighting, named for what it guards.
 *   goesOn  the address's pending entry exists and a callback named it at most the gap ago: the
 *           same stream of callbacks goes on, and only its last-seen time moves. Otherwise (no
 *           entry, or a longer silence) nothing is written and the callback registers the address,
 *           marking a new burst (burstFrom), which has its activity watch ask Volcengine at its
 *           next claim: after a silence, a new run of a reused TaskId has probably begun.
 * Races it settles: the two writes are never one, so a callback that dies between them has
 * written nothing and the next delivery finds the same silence (a burst is never hidden by a
 * half-done sighting); two deliveries that both find the silence both start the burst, and the later
 * burstFrom stays (a watch that saw the first asks once more than needed, never less); a sighting
 * racing the retirement of the entry either lands first (bumping the generation, so the retirement
 * fails and the entry stays) or finds no entry and registers it again. Last-seen times come from
 * the callback instances' clocks: a skew of seconds moves them by as much, against a gap and a
 * margin of minutes.
 */
const SIGHTING_CONDITION = { goesOn: '#lastSeenAt >= :goesOnFrom' } as const;

export class DynamoDbRegistrations implements Registrations {
  readonly usage: RegistryUsage = { reads: 0, writes: 0, readUnits: 0, writeUnits: 0 };
  protected readonly client: DynamoDBClient;
  protected readonly table: string;
  protected readonly pageSize: number;
  /** Each request's options: its abortSignal on a view made by cutBy (lib/archive/access.ts; hence no #private member here). */
  private readonly sent: { abortSignal?: AbortSignal } = {};

  constructor(options: DynamoDbRegistryOptions) {
    this.table = options.table;
    this.pageSize = options.pageSize ?? 100;
    this.client = new DynamoDBClient(awsClientConfig(options));
  }

  /**
   * An upsert: a new run is due as runRegistration says; an entry keeps its due time and lane
   * (the archiver's to change); a known run stays known, an announced one becomes known when a
   * lookup or the archiver saw it. Racing a
   * retirement, it either lands first (the retire of a pending entry then fails on its
   * generation; a run's retire deletes an entry whose run is archived final) or after (the entry
   * is created again and the next tick settles it): a registration is never lost.
   */
  async registerRun(address: TaskAddress, startTime: number, via: Exclude<RegistrationVia, 'callback'>, now: number, firstDue?: FirstDue) {
    const registration = runRegistration(startTime, via, now, firstDue);
    const state = registration.state === 'known' ? ':state' : 'if_not_exists(#state, :state)';
    const asked = firstDue?.askedTick;
    return this.register({ address, kind: 'run', startTime }, now, via, {
      set: [
        `#state = ${state}`,
        '#startTime = :startTime',
        '#deadline = :deadline',
        '#expiresAt = :expiresAt',
        '#dueAt = if_not_exists(#dueAt, :dueAt)',
        '#dueShard = if_not_exists(#dueShard, :dueShard)',
        ...(asked === undefined ? [] : ['#askedTick = if_not_exists(#askedTick, :askedTick)']),
      ],
      values: {
        ':state': S(registration.state),
        ':startTime': N(startTime),
        ':deadline': N(registration.deadline),
        ':expiresAt': expiresAt(registration.deadline),
        ':dueAt': N(registration.firstDue.dueAt),
        ':dueShard': S(LANE_PARTITION[registration.firstDue.lane]),
        ...(asked === undefined ? {} : { ':askedTick': N(asked) }),
      },
    });
  }

  /**
   * An upsert that keeps the first registration's time and deadline, and an entry's due time and
   * lane (an activity watch stays one); a callback's is also its last-seen time and starts a new
   * burst of callbacks (continueSighting did not find them going on).
   */
  async registerPending(address: TaskAddress, via: 'callback' | 'watch', now: number) {
    const deadline = now + PENDING_LIFETIME_MS;
    return this.register({ address, kind: 'pending', startTime: undefined }, now, via, {
      set: [
        '#state = :state',
        '#deadline = if_not_exists(#deadline, :deadline)',
        '#expiresAt = if_not_exists(#expiresAt, :expiresAt)',
        '#dueAt = if_not_exists(#dueAt, :now)',
        '#dueShard = if_not_exists(#dueShard, :dueShard)',
        ...(via === 'callback' ? ['#lastSeenAt = :now', '#burstFrom = :now'] : []),
      ],
      values: {
        ':state': S('unknown' satisfies RegistryState),
        ':deadline': N(deadline),
        ':expiresAt': expiresAt(deadline),
        ':dueShard': S(LANE_PARTITION[PENDING_LANE]),
      },
    });
  }

  /**
   * One UpdateItem conditional on the callbacks going on (SIGHTING_CONDITION): the common case of a
   * callback, one write per address per memo period.
   */
  async continueSighting(address: TaskAddress, now: number, gapMs: number): Promise<boolean> {
    const expression = 'SET #lastSeenAt = :now ADD #generation :one';
    const condition = SIGHTING_CONDITION.goesOn;
    return this.conditional(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key({ address, kind: 'pending', startTime: undefined }),
        UpdateExpression: expression,
        ConditionExpression: condition,
        ExpressionAttributeNames: namesIn(expression, condition),
        ExpressionAttributeValues: { ':now': N(now), ':one': N(1), ':goesOnFrom': N(now - gapMs) },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  }

  private async register(
    ref: EntryRef,
    now: number,
    via: RegistrationVia,
    update: { set: string[]; values: Item },
  ): Promise<RegisterOutcome> {
    const set = [
      '#kind = :kind',
      '#appId = :appId',
      '#roomId = :roomId',
      '#taskId = :taskId',
      '#registeredAt = if_not_exists(#registeredAt, :now)',
      '#via = if_not_exists(#via, :via)',
      ...update.set,
    ];
    const expression = `SET ${set.join(', ')} ADD #generation :one`;
    const answer = await this.write<UpdateItemCommandOutput>(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(ref),
        UpdateExpression: expression,
        ExpressionAttributeNames: namesIn(expression),
        ExpressionAttributeValues: {
          ':kind': S(ref.kind),
          ':appId': S(ref.address.appId),
          ':roomId': S(ref.address.roomId),
          ':taskId': S(ref.address.taskId),
          ':now': N(now),
          ':via': S(via),
          ':one': N(1),
          ...update.values,
        },
        ReturnValues: 'UPDATED_OLD',
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    return answer.Attributes?.generation ? 'already-watched' : 'registered';
  }

  protected key(ref: EntryRef): Item {
    return { pk: S(addressKey(ref.address)), sk: S(entrySortKey(ref)) };
  }

  /** True when the write was made; false when its condition did not hold. */
  protected async conditional(command: UpdateItemCommand | DeleteItemCommand): Promise<boolean> {
    try {
      await this.write(command);
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Sends a read (GetItem, Query, Scan), counting it and the capacity it consumed. */
  protected async read<T extends { ConsumedCapacity?: ConsumedCapacity | undefined }>(
    command: GetItemCommand | QueryCommand | ScanCommand,
  ): Promise<T> {
    this.usage.reads++;
    const answer = (await this.client.send(command as never, this.sent)) as unknown as T;
    this.count(answer.ConsumedCapacity, false);
    return answer;
  }

  /** Sends a write (UpdateItem, DeleteItem), counting it and the capacity it consumed. */
  protected async write<T extends { ConsumedCapacity?: ConsumedCapacity | undefined }>(
    command: UpdateItemCommand | DeleteItemCommand,
  ): Promise<T> {
    this.usage.writes++;
    try {
      const answer = (await this.client.send(command as never, this.sent)) as unknown as T;
      this.count(answer.ConsumedCapacity, true);
      return answer;
    } catch (error) {
      // A failed conditional write is billed as a write.
      if (isConditionFailure(error)) this.usage.writeUnits += 1;
      throw error;
    }
  }

  private count(capacity: ConsumedCapacity | undefined, write: boolean): void {
    const units = capacity?.CapacityUnits ?? 0;
    if (write) this.usage.writeUnits += units;
    else this.usage.readUnits += units;
  }
}
