/** EventBridge schedule → one archiver run. Config is validated at cold start. */
import { buildArchiver } from '../lib/archive/build.ts';
import { archiverSettings } from '../lib/config.ts';

export const { handler } = buildArchiver(archiverSettings(process.env));
