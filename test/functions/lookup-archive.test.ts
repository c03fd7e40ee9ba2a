/** The lookup function with an archive: handler → client → emulator, and → S3-protocol server. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openArchive, type ArchiveAccess } from '../../lib/archive/access.ts';
import { HOUR } from '../support/clock.ts';
import { httpEvent } from '../support/http-events.ts';
import { startLookupStack, type LookupStack } from '../support/lookup-stack.ts';

const APP = 'app-archive';
let stack: LookupStack;
let access: ArchiveAccess;

const call = async (query: Array<[string, string]> | string) => {
  const result = await stack.invoke(httpEvent(query));
  return { ...result, json: JSON.parse(result.body) };
};
const action = (name: string, params: Record<string, string>): Array<[string, string]> => [['Action', name], ['Version', '2023-11-01'], ...Object.entries(params)];
const address = (taskId: string) => ({ appId: APP, roomId: 'room', taskId });

async function registryEntries() {
  const entries = [];
  for await (const entry of access.registry.entries()) entries.push(entry);
  return entries;
}

beforeEach(async () => {
  stack = await startLookupStack({ archive: true });
  access = openArchive({ ...stack.env, ARCHIVE_BUCKET: stack.env.ARCHIVE_BUCKET! });
});
afterEach(() => stack.stop());

describe('GetSegmentTask with the archive', () => {
  it('registers a running task it answers live, with its real deadline', async () => {
    const seeded = stack.emulator.seedTask({ ...address('running') });
    const response = await stack.get(APP, 'room', 'running');
    await stack.get(APP, 'room', 'running');
    expect(response.statusCode).toBe(200);
    const entries = await registryEntries();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ deadline: seeded.startTime + 72 * HOUR, provisional: false, address: address('running') });
  });

  it('archives a terminal answer and then answers from the archive without calling Volcengine', async () => {
    stack.emulator.seedTask({ ...address('done'), status: 3, stopReason: 'StopByAPI', endTime: stack.clock.now() });
    const live = await stack.get(APP, 'room', 'done');
    // a second instance (no memory) asks again
    const other = await startLookupStack({ archive: false, env: { ...archiveEnvOf(stack) } });
    try {
      const fromArchive = await other.get(APP, 'room', 'done');
      expect(fromArchive.statusCode).toBe(200);
      expect(fromArchive.headers['X-Answer-Source']).toBe('archive');
      expect(fromArchive.json.Result.SegmentTask).toEqual(live.json.Result.SegmentTask);
      expect(fromArchive.json.Result.Archive).toMatchObject({ Final: true });
      expect(other.emulator.callsOf('GetSegmentTask')).toHaveLength(0);
    } finally {
      await other.emulator.stop();
    }
    expect(await registryEntries()).toHaveLength(0);
  });

  it('answers from the archive, saying so, once Volcengine has forgotten the task', async () => {
    const seeded = stack.emulator.seedTask({ ...address('old'), maxIdleTime: 86_400 });
    await access.archive.record(address('old'), { task: { StartTime: seeded.startTime, Status: 2, EndTime: 0 }, capturedAt: stack.clock.now(), source: 'archiver', final: true });
    stack.clock.advance(73 * HOUR);
    const response = await stack.get(APP, 'room', 'old');
    expect(response.statusCode).toBe(200);
    expect(response.headers['X-Answer-Source']).toBe('archive');
    expect(response.json.Result.Archive.CapturedAt).toBe(new Date(stack.clock.now() - 73 * HOUR).toISOString());
    expect(stack.emulator.callsOf('GetSegmentTask')).toHaveLength(1);
  });

  it('answers from the archive when Volcengine fails, and 404 when neither knows the task', async () => {
    await access.archive.record(address('flaky'), { task: { Status: 2 }, capturedAt: stack.clock.now(), source: 'archiver', final: false });
    stack.emulator.inject({ kind: 'http5xx' });
    const archived = await stack.get(APP, 'room', 'flaky');
    stack.emulator.clearFaults();
    const unknown = await stack.get(APP, 'room', 'nobody');
    expect(archived.headers['X-Answer-Source']).toBe('archive');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json.ResponseMetadata.Error.Message).toContain('archive has no snapshot');
  });

  it('still answers live when the archive is down', async () => {
    stack.emulator.seedTask({ ...address('live') });
    stack.s3!.inject({ kind: 'http5xx' });
    const response = await stack.get(APP, 'room', 'live');
    expect(response.statusCode).toBe(200);
    expect(response.headers['X-Answer-Source']).toBe('volcengine');
  });
});

describe('archive actions', () => {
  it('WatchSegmentTask registers once, provisionally or with a StartTime', async () => {
    const first = await call(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'w1' }));
    const again = await call(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'w1' }));
    const timed = await call(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'w2', StartTime: String(stack.clock.now() - HOUR) }));
    const bad = await call(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'w3', StartTime: 'yesterday' }));
    expect(first.json.Result).toEqual({ Watched: true, AlreadyWatched: false });
    expect(again.json.Result).toEqual({ Watched: true, AlreadyWatched: true });
    expect(timed.statusCode).toBe(200);
    expect(bad.statusCode).toBe(400);
    expect(bad.json.ResponseMetadata.Error.Message).toContain('StartTime');
    const entries = await registryEntries();
    expect(entries.map((e) => [e.address.taskId, e.provisional])).toEqual(expect.arrayContaining([['w1', true], ['w2', false]]));
    expect(entries).toHaveLength(2);
  });

  it('ListSegmentTaskSnapshots returns a task\'s timeline, oldest first', async () => {
    const t0 = stack.clock.now();
    await access.archive.record(address('tl'), { task: { Status: 2, Duration: 20 }, capturedAt: t0, source: 'archiver', final: false });
    await access.archive.record(address('tl'), { task: { Status: 2, Duration: 30 }, capturedAt: t0 + 60_000, source: 'archiver', final: false });
    await access.archive.record(address('tl'), { task: { Status: 3, Duration: 30 }, capturedAt: t0 + 120_000, source: 'archiver', final: true });
    const response = await call(action('ListSegmentTaskSnapshots', { AppId: APP, RoomId: 'room', TaskId: 'tl' }));
    const missing = await call(action('ListSegmentTaskSnapshots', { AppId: APP, RoomId: 'room', TaskId: 'none' }));
    expect(response.json.Result.Snapshots.map((s: any) => [s.SegmentTask.Status, s.SegmentTask.Duration, s.Final])).toEqual([
      [2, 20, false],
      [2, 30, false],
      [3, 30, true],
    ]);
    expect(missing.statusCode).toBe(404);
  });

  it('ListArchivedSegmentTasks pages through a room', async () => {
    for (const id of ['a1', 'a2', 'a3', 'a4', 'a5']) await access.archive.record(address(id), { task: { Status: 3 }, capturedAt: stack.clock.now(), source: 'archiver', final: true });
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const response = await call(action('ListArchivedSegmentTasks', { AppId: APP, RoomId: 'room', PageSize: '2', ...(token ? { PageToken: token } : {}) }));
      expect(response.statusCode).toBe(200);
      seen.push(...response.json.Result.TaskIds);
      token = response.json.Result.NextPageToken;
      pages++;
    } while (token);
    expect(seen).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(pages).toBe(3);
    const badSize = await call(action('ListArchivedSegmentTasks', { AppId: APP, RoomId: 'room', PageSize: '1000' }));
    const badToken = await call(action('ListArchivedSegmentTasks', { AppId: APP, RoomId: 'room', PageToken: '<script>' }));
    expect([badSize.statusCode, badToken.statusCode]).toEqual([400, 400]);
    expect(badToken.json.ResponseMetadata.Error.Message).toContain('PageToken');
  });

  it('answers 503 in the envelope when the archive cannot be read', async () => {
    stack.s3!.inject({ kind: 'http5xx' });
    const response = await call(action('ListSegmentTaskSnapshots', { AppId: APP, RoomId: 'room', TaskId: 'x' }));
    expect(response.statusCode).toBe(503);
    expect(response.json.ResponseMetadata.Error.Code).toBe('ServiceUnavailable.Archive');
  });
});

describe('without an archive', () => {
  it('does not offer the archive actions', async () => {
    const plain = await startLookupStack();
    try {
      const result = await plain.invoke(httpEvent(action('WatchSegmentTask', { AppId: APP, RoomId: 'room', TaskId: 'w' })));
      expect(result.statusCode).toBe(404);
      expect(JSON.parse(result.body).ResponseMetadata.Error.Code).toBe('InvalidActionOrVersion');
    } finally {
      await plain.stop();
    }
  });
});

function archiveEnvOf(s: LookupStack): Record<string, string> {
  return {
    ARCHIVE_BUCKET: s.env.ARCHIVE_BUCKET!,
    S3_ENDPOINT: s.env.S3_ENDPOINT!,
    S3_REGION: s.env.S3_REGION,
    S3_FORCE_PATH_STYLE: 'true',
  };
}
