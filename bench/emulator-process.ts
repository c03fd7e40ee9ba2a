/** The emulator in its own process, so its CPU does not count against the client being measured. */
import { VolcEmulator } from '../test/emulator/volc-emulator.ts';

const emulator = new VolcEmulator({
  credentials: [{ accessKeyId: 'AKLTBENCHACCESSKEY', secretAccessKey: 'bench-secret-access-key' }],
  qpsLimits: { GetSegmentTask: Number.MAX_SAFE_INTEGER },
});
const url = await emulator.start();
emulator.seedTask({ appId: '661e3b4c9a5f7d0012a543cf', roomId: 'Room1', taskId: 'seg-task-0001' });
process.stdout.write(`URL ${url}\n`);
process.on('SIGTERM', () => void emulator.stop().then(() => process.exit(0)));
