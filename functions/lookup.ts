/** HTTP API (payload 2.0) → GetSegmentTask lookups. Config is validated at cold start. */
import { lookupSettings } from '../lib/config.ts';
import { createMetrics } from '../lib/log.ts';
import { buildLookup } from '../lib/lookup/build.ts';

export const { handler } = buildLookup(lookupSettings(process.env), { metrics: createMetrics('lookup') });
