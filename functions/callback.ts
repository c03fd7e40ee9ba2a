/** HTTP API POST /callbacks/volcengine → Volcengine event callbacks. Config is validated at cold start. */
import { buildCallback } from '../lib/callback/build.ts';
import { callbackSettings } from '../lib/config.ts';

export const handler = buildCallback(callbackSettings(process.env));
