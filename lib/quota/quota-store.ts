/**
 * The quota's frontiers in DynamoDB: one item per share, { pk: "frontier#<share>", frontier,
 * expiresAt }, where frontier is the epoch-ms time of the share's next free slot. Each slot is
 * taken with one conditional UpdateItem, so however many instances call at once, no slot is
 * given twice. expiresAt (the table's TTL attribute) lets DynamoDB drop an unused share's item.
 */
import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { Share } from './slots.ts';

const EXPIRES_AFTER_S = 86_400;

/** The store port: each method takes one slot or says it could not (undefined). */
export interface QuotaStore {
  /** Takes `spanMs` of slots from the frontier if it lies in [now, latest]; answers the first slot's time. */
  advance(share: Share, spanMs: number, now: number, latest: number, signal: AbortSignal): Promise<number | undefined>;
  /** Takes `spanMs` of slots from `now` if the frontier lies before now (or does not exist yet). */
  restart(share: Share, spanMs: number, now: number, signal: AbortSignal): Promise<number | undefined>;
  /** The frontier as it is (a consistent read), for a Retry-After. */
  read(share: Share, signal: AbortSignal): Promise<number | undefined>;
}

const number = (value: number) => ({ N: String(Math.round(value * 1000) / 1000) });
const key = (share: Share) => ({ pk: { S: `frontier#${share}` } });
const expiresAt = (now: number) => number(Math.floor(now / 1000) + EXPIRES_AFTER_S);

export class DynamoDbQuotaStore implements QuotaStore {
  readonly #client: DynamoDBClient;

  constructor(
    readonly table: string,
    options: { endpoint?: string | undefined; region?: string | undefined; userAgent?: string | undefined } = {},
  ) {
    this.#client = new DynamoDBClient({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.region ? { region: options.region } : {}),
      // Names the calling function in CloudTrail's userAgent.
      ...(options.userAgent ? { customUserAgent: options.userAgent } : {}),
      maxAttempts: 1,
    });
  }

  async advance(share: Share, spanMs: number, now: number, latest: number, signal: AbortSignal): Promise<number | undefined> {
    const span = number(spanMs);
    const answer = await this.#conditional(
      {
        UpdateExpression: 'ADD #f :span SET #e = :expires',
        ConditionExpression: '#f >= :now AND #f <= :latest',
        ExpressionAttributeValues: { ':span': span, ':expires': expiresAt(now), ':now': number(now), ':latest': number(latest) },
      },
      share,
      signal,
    );
    return answer === undefined ? undefined : answer - Number(span.N);
  }

  async restart(share: Share, spanMs: number, now: number, signal: AbortSignal): Promise<number | undefined> {
    const answer = await this.#conditional(
      {
        UpdateExpression: 'SET #f = :next, #e = :expires',
        ConditionExpression: 'attribute_not_exists(#f) OR #f < :now',
        ExpressionAttributeValues: { ':next': number(now + spanMs), ':expires': expiresAt(now), ':now': number(now) },
      },
      share,
      signal,
    );
    return answer === undefined ? undefined : now;
  }

  async read(share: Share, signal: AbortSignal): Promise<number | undefined> {
    const answer = await this.#client.send(new GetItemCommand({ TableName: this.table, Key: key(share), ConsistentRead: true }), {
      abortSignal: signal,
    });
    const value = answer.Item?.frontier?.N;
    return value === undefined ? undefined : Number(value);
  }

  async #conditional(
    update: { UpdateExpression: string; ConditionExpression: string; ExpressionAttributeValues: Record<string, { N: string }> },
    share: Share,
    signal: AbortSignal,
  ): Promise<number | undefined> {
    try {
      const answer = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: key(share),
          ...update,
          ExpressionAttributeNames: { '#f': 'frontier', '#e': 'expiresAt' },
          ReturnValues: 'UPDATED_NEW',
        }),
        { abortSignal: signal },
      );
      return Number(answer.Attributes?.frontier?.N);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException')
        return undefined;
      throw error;
    }
  }
}
