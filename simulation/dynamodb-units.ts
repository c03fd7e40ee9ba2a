/**
 * What the registry's requests would consume in DynamoDB, from the entries the in-memory registry
 * holds: the size of the item DynamoDbRegistry keeps for an entry (lib/archive/dynamodb-registrations.ts
 * and dynamodb-registry.ts write the same attributes) and of its projection in the `due` index, in
 * DynamoDB's item-size rules (an attribute is its name's UTF-8 bytes plus its value's; a number
 * about one byte per two significant digits plus one, as dynalite computes it). A test holds these
 * to the capacity dynalite reports for the same requests.
 *
 * Units: a write is one unit per KB of the larger of the item before and after (at least one, also
 * when its condition fails); a read of the tick item is one unit (strongly consistent, under
 * 4 KB); a page of the due index half a unit per 4 KB of the items returned (eventually consistent,
 * at least one 4 KB). The index is billed too, which dynalite does not count: a write that creates
 * or deletes an entry writes its index item once, one that moves its dueAt (the index's sort key)
 * twice (delete, then put), one that changes only a projected attribute (deadline, state) once,
 * and one that changes neither (a callback's last-seen time) not at all.
 */
import { entrySortKey, EXPIRY_GRACE_MS, type DueEntry, type RegistryEntry } from '../lib/archive/registry.ts';
import { LANE_PARTITION } from '../lib/archive/registry-table.ts';

const PENDING_SORT_KEY_BYTES = entrySortKey({ kind: 'pending', startTime: undefined }).length;
const RUN_SORT_KEY_BYTES = entrySortKey({ kind: 'run', startTime: 0 }).length;

/** DynamoDB's size of a number: its significant digits two to a byte, plus one byte (and one more in some cases). */
function numberBytes(value: number): number {
  if (value === 0) return 1;
  let digits: number;
  let exponent: number;
  if (Number.isSafeInteger(value)) {
    // The common case (epoch ms, counters), without formatting: digits less trailing zeros, and the exponent.
    let n = Math.abs(value);
    let zeros = 0;
    while (n % 10 === 0) {
      n /= 10;
      zeros++;
    }
    digits = n === 0 ? 1 : Math.floor(Math.log10(n)) + 1;
    exponent = digits + zeros - 1;
  } else {
    const [mantissa, e] = Math.abs(value).toExponential().split('e') as [string, string];
    digits = mantissa.replace('.', '').replace(/0+$/, '').length;
    exponent = Number(e);
  }
  return 1 + Math.ceil(digits / 2) + (digits % 2 || exponent % 2 ? 0 : 1) + (value < 0 ? 1 : 0);
}

/** An attribute: its name's bytes and its value's. Every string of an entry is ASCII (ids match [a-zA-Z0-9_@.-]): a character is a byte. */
const string = (name: string, value: string | undefined) => (value === undefined ? 0 : name.length + value.length);
const number = (name: string, value: number | undefined) => (value === undefined ? 0 : name.length + numberBytes(value));

/** The entry's key and its index's key and projected attributes: pk = AppId/RoomId/TaskId, sk = run#{13 digits} | pending. */
function indexAttributeBytes(entry: DueEntry): number {
  const { appId, roomId, taskId } = entry.address;
  const pk = 2 + appId.length + roomId.length + taskId.length;
  const sk = entry.kind === 'pending' ? PENDING_SORT_KEY_BYTES : RUN_SORT_KEY_BYTES;
  return (
    'pk'.length +
    pk +
    'sk'.length +
    sk +
    string('dueShard', LANE_PARTITION[entry.lane]) +
    number('dueAt', entry.dueAt) +
    number('deadline', entry.deadline) +
    string('state', entry.state)
  );
}

/** Bytes of the item DynamoDbRegistry keeps for `entry`; 0 for none. */
export function itemBytes(entry: RegistryEntry | undefined): number {
  if (!entry) return 0;
  const { address } = entry;
  return (
    indexAttributeBytes(entry) +
    string('kind', entry.kind) +
    string('appId', address.appId) +
    string('roomId', address.roomId) +
    string('taskId', address.taskId) +
    number('registeredAt', entry.registeredAt) +
    string('via', entry.via) +
    number('startTime', entry.startTime) +
    number('expiresAt', Math.ceil((entry.deadline + EXPIRY_GRACE_MS) / 1000)) +
    number('generation', entry.generation) +
    number('lastSeenAt', entry.lastSeenAt) +
    number('polledTick', entry.polledTick) +
    string('claimedBy', entry.claimedBy) +
    number('claimedAt', entry.claimedAt) +
    string('refusedCode', entry.refused?.code) +
    number('refusedSince', entry.refused?.since) +
    number('burstFrom', entry.burstFrom) +
    number('watchBurst', entry.activity?.burstSeen) +
    number('watchEndsAfter', entry.activity?.endsAfterMs)
  );
}

/** Bytes of `entry`'s item in the `due` index. */
export const indexItemBytes = (entry: DueEntry): number => indexAttributeBytes(entry);

/** Write units of a write of an item of `bytes` (at least one: a failed condition and a missing item are billed too). */
export const writeUnits = (bytes: number): number => Math.max(1, Math.ceil(bytes / 1024));

/** Read units of an eventually consistent read of `bytes` in all (a Query page, a Scan page). */
export const eventuallyConsistentReadUnits = (bytes: number): number => Math.max(1, Math.ceil(bytes / 4096)) / 2;

/** Write units the `due` index consumes when a write turns the entry `before` into `after` (undefined: no item). */
export function indexWriteUnits(before: RegistryEntry | undefined, after: RegistryEntry | undefined): number {
  if (!before && !after) return 0;
  if (!before || !after) return writeUnits(indexItemBytes((before ?? after)!));
  // The index's key is (dueShard, dueAt): a move of either deletes the index item and puts another.
  if (before.dueAt !== after.dueAt || before.lane !== after.lane)
    return writeUnits(indexItemBytes(before)) + writeUnits(indexItemBytes(after));
  const projectedChanged = before.deadline !== after.deadline || before.state !== after.state;
  return projectedChanged ? writeUnits(indexItemBytes(after)) : 0;
}
