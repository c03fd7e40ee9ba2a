/**
 * Finds the task an event is about. SegmentRealTimeData's EventData fields are not publicly
 * confirmed, so this is tolerant: EventData may be JSON or JSON-in-a-string, and RoomId / TaskId /
 * UserId are looked up case-insensitively (RoomID, room_id, …) at any depth. For auto
 * segmentation the TaskId is the UserId.
 */
import { VOLC_ID_PATTERN } from '../volc/schemas.ts';

export interface EventTask {
  roomId: string;
  taskId: string;
}

const normalise = (key: string) => key.toLowerCase().replace(/[_-]/g, '');

function parseTolerantly(eventData: string): unknown {
  let value: unknown = eventData;
  for (let depth = 0; depth < 2 && typeof value === 'string'; depth++) {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return value;
}

/** The first string value of any of `names`, breadth-first. */
function findField(root: unknown, names: string[]): string | undefined {
  const queue: unknown[] = [root];
  for (let seen = 0; queue.length && seen < 1000; seen++) {
    const node = queue.shift();
    if (Array.isArray(node)) queue.push(...node);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (names.includes(normalise(key)) && typeof value === 'string' && value !== '') return value;
      }
      queue.push(...Object.values(node));
    }
  }
  return undefined;
}

export function taskOfEventData(eventData: string): EventTask | undefined {
  const data = parseTolerantly(eventData);
  if (data === undefined) return undefined;
  const roomId = findField(data, ['roomid']);
  const taskId = findField(data, ['taskid']) ?? findField(data, ['userid']);
  if (!roomId || !taskId || !VOLC_ID_PATTERN.test(roomId) || !VOLC_ID_PATTERN.test(taskId)) return undefined;
  return { roomId, taskId };
}
