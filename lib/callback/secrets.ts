/** Callback SecretKeys by AppId, from the settings (local) or an SSM parameter (deployed). */
import { CallbackSecretsSchema, type CallbackSettings } from '../config.ts';
import { cachedParameter } from '../secrets.ts';

export function callbackSecrets(
  settings: Pick<CallbackSettings, 'callbackSecrets' | 'secrets'>,
  userAgent: string,
): (appId: string) => Promise<string | undefined> {
  const pick = (secrets: Record<string, string>, appId: string) => (Object.hasOwn(secrets, appId) ? secrets[appId] : undefined);
  const source = settings.callbackSecrets;
  if ('byAppId' in source) return async (appId) => pick(source.byAppId, appId);
  const { parameter } = source;
  const read = cachedParameter(parameter, { ttlMs: settings.secrets.cacheTtlMs, endpoint: settings.secrets.ssmEndpoint, userAgent });
  return async (appId) => {
    const parsed = CallbackSecretsSchema.safeParse(JSON.parse(await read()));
    if (!parsed.success) throw new Error(`${parameter} must hold a JSON object of AppId to SecretKey`);
    return pick(parsed.data, appId);
  };
}
