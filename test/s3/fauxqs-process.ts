/** fauxqs in its own process, so the S3 server's work does not share a core with the code under test. */
import { startFauxqs } from 'fauxqs';

const dataDir = process.env.FAUXQS_DATA_DIR;
const server = await startFauxqs({
  port: 0,
  logger: false,
  host: '127.0.0.1',
  ...(dataDir ? { dataDir, s3StorageDir: `${dataDir}/objects` } : {}),
});
try {
  server.createBucket(process.env.FAUXQS_BUCKET ?? 'rtc-segment-archive');
} catch {
  // already there (persisted from an earlier run)
}
process.stdout.write(`URL ${server.address}\n`);
const stop = () => void server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
