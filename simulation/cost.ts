/**
 * The cost of a simulation's counted requests at the price table (simulation/prices.ts), per
 * function and service, in USD. Counted: invocations, HTTP API requests (one per lookup or
 * callback invocation), S3 requests by kind, the registry's units, PutEvents chunks. Derived, with
 * their stated sources: Lambda time beyond the virtual time (ASSUMED_DURATION_MS) and the quota
 * table's calls (QUOTA_TABLE_PER_UPSTREAM_CALL per counted Volcengine call).
 */
import { ASSUMED_DURATION_MS, LAMBDA_MEMORY_GB, PRICES, QUOTA_TABLE_PER_UPSTREAM_CALL } from './prices.ts';
import { SIMULATED_FUNCTIONS, type FunctionRequests, type RequestCounts, type SimulatedFunction } from './requests.ts';

export interface FunctionCost {
  /** Lambda seconds billed: virtual time plus the assumed time per invocation (and per Volcengine call of a lookup). */
  lambdaSeconds: number;
  /** Quota table units derived from the Volcengine calls. */
  quotaTableUnits: { reads: number; writes: number };
  usd: { lambda: number; httpApi: number; s3: number; registry: number; quotaTable: number; eventBridge: number; total: number };
}

export type SimulationCost = Record<SimulatedFunction, FunctionCost> & { totalUsd: number; pricesOf: string };

export function lambdaSeconds(name: SimulatedFunction, counts: FunctionRequests): number {
  const perCall = name === 'lookup' ? counts.volcengineCalls * ASSUMED_DURATION_MS.lookupUpstreamCall : 0;
  return counts.virtualSeconds + (counts.invocations * ASSUMED_DURATION_MS.perInvocation[name] + perCall) / 1000;
}

export function functionCost(name: SimulatedFunction, counts: FunctionRequests): FunctionCost {
  const seconds = lambdaSeconds(name, counts);
  const quota = {
    reads: counts.volcengineCalls * QUOTA_TABLE_PER_UPSTREAM_CALL.reads,
    writes: counts.volcengineCalls * QUOTA_TABLE_PER_UPSTREAM_CALL.writes,
  };
  const { s3, dynamodb } = counts;
  const usd = {
    lambda: counts.invocations * PRICES.lambda.request + seconds * LAMBDA_MEMORY_GB * PRICES.lambda.gbSecond,
    httpApi: name === 'archiver' ? 0 : counts.invocations * PRICES.httpApiRequest,
    s3: s3.get * PRICES.s3.get + s3.put * PRICES.s3.put + s3.list * PRICES.s3.list + s3.delete * PRICES.s3.delete,
    registry: dynamodb.readUnits * PRICES.dynamodb.readUnit + (dynamodb.writeUnits + dynamodb.indexWriteUnits) * PRICES.dynamodb.writeUnit,
    quotaTable: quota.reads * PRICES.dynamodb.readUnit + quota.writes * PRICES.dynamodb.writeUnit,
    eventBridge: counts.eventBridge.chunks * PRICES.eventBridgeEntry,
    total: 0,
  };
  usd.total = usd.lambda + usd.httpApi + usd.s3 + usd.registry + usd.quotaTable + usd.eventBridge;
  return { lambdaSeconds: seconds, quotaTableUnits: quota, usd };
}

export function costOf(counts: RequestCounts): SimulationCost {
  const [lookup, callback, archiver] = SIMULATED_FUNCTIONS.map((name) => functionCost(name, counts[name])) as [
    FunctionCost,
    FunctionCost,
    FunctionCost,
  ];
  return {
    lookup,
    callback,
    archiver,
    totalUsd: lookup.usd.total + callback.usd.total + archiver.usd.total,
    pricesOf: `${PRICES.region} list prices of ${PRICES.date}`,
  };
}
