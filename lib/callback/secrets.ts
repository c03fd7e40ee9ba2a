/** Callback SecretKeys by AppId, from the environment (local) or an SSM parameter (deployed). */
import { CallbackSecretsSchema, type CallbackEnv } from '../config.ts';
import { cachedParameter } from '../secrets.ts';

export function callbackSecretsFromEnv(env: CallbackEnv, userAgent: string): (appId: string) => Promise<string | undefined> {
  const pick = (secrets: Record<string, string>, appId: string) => (Object.hasOwn(secrets, appId) ? secrets[appId] : undefined);
  if (env.CALLBACK_SECRETS) {
    const secrets = env.CALLBACK_SECRETS;
    return async (appId) => pick(secrets, appId);
  }
  const parameter = env.CALLBACK_SECRETS_PARAMETER!;
  const read = cachedParameter(parameter, { ttlMs: env.SECRETS_CACHE_TTL_MS, endpoint: env.SSM_ENDPOINT, userAgent });
  return async (appId) => {
    const parsed = CallbackSecretsSchema.safeParse(JSON.parse(await read()));
    if (!parsed.success) throw new Error(`${parameter} must hold a JSON object of AppId to SecretKey`);
    return pick(parsed.data, appId);
  };
}
