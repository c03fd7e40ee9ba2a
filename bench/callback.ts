/**
 * Callback burst (part of `npm run bench`): 1,000 signed SegmentRealTimeData events from 16
 * concurrent senders through the callback handler, registry writes and publication included
 * (dynalite and the EventBridge peer on loopback). Reports throughput and latency percentiles; p99
 * as a fraction of Volcengine's 5-second limit.
 */
import { callbackSettings } from '../lib/config.ts';
import { VolcEmulator } from '../test/emulator/volc-emulator.ts';
import { startArchiveStack } from '../test/support/archive-stack.ts';
import { callbackEvent, testCallbackHandler } from '../test/support/callback-stack.ts';
import { lambdaContext } from '../test/support/http-events.ts';

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function benchCallbacks(figures: Record<string, number>): Promise<void> {
  const stack = await startArchiveStack('');
  try {
    const secret = 'bench-callback-secret';
    const settings = callbackSettings({ ...stack.env, CALLBACK_SECRETS: JSON.stringify({ 'bench-app': secret }) });
    // The function's registry and event bus, built by buildCallback from its settings as deployed.
    const handler = testCallbackHandler({ settings, secrets: { 'bench-app': secret }, logLevel: 'SILENT' });
    const emulator = new VolcEmulator({ credentials: [] });
    const tasks = Array.from({ length: 100 }, (_, i) =>
      emulator.seedTask({ appId: 'bench-app', roomId: `room-${i % 10}`, taskId: `task-${i}` }),
    );
    const events = tasks.flatMap((task) =>
      Array.from({ length: 10 }, (_, sequence) => JSON.stringify(emulator.segmentEvent(task, secret, { sequence }))),
    );
    const originalWrite = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write; // Powertools metrics print EMF lines
    const latencies: number[] = [];
    let failures = 0;
    let next = 0;
    const started = performance.now();
    try {
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < events.length) {
            const body = events[next++]!;
            const t0 = performance.now();
            const result = (await handler(callbackEvent(body), lambdaContext())) as { statusCode: number };
            latencies.push(performance.now() - t0);
            if (result.statusCode !== 200) failures++;
          }
        }),
      );
    } finally {
      process.stdout.write = originalWrite;
    }
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
    figures.callback_events_per_s = round(events.length / seconds);
    figures.callback_p50_ms = round(at(0.5));
    figures.callback_p99_ms = round(at(0.99));
    figures.callback_p99_vs_5s_limit = round(at(0.99) / 5000, 4);
    figures.callback_failures = failures;
    console.log(
      `callbacks: ${events.length} events from 16 senders, ${figures.callback_events_per_s}/s; p50 ${figures.callback_p50_ms} ms, ` +
        `p99 ${figures.callback_p99_ms} ms (×${figures.callback_p99_vs_5s_limit} of the 5 s limit); ${failures} not 200`,
    );
  } finally {
    await stack.stop();
  }
}
