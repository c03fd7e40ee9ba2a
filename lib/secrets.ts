/**
 * Secrets read at run time from SSM Parameter Store (SecureString), or from Secrets Manager
 * through SSM's /aws/reference/secretsmanager/<secret-id> path, through Powertools' SSMProvider,
 * which caches each value for ttlMs. Powertools and the SSM client are imported on first use, so
 * they cost nothing at cold start. This wrapper adds what the provider does not do: one fetch for
 * concurrent readers, the last good value while SSM is unreachable, and errors that name the
 * parameter, never its value.
 */
import type { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';

export interface ParameterOptions {
  ttlMs: number;
  /** For tests and other regions' endpoints; empty for AWS. */
  endpoint?: string | undefined;
  /** Names the calling function in CloudTrail's userAgent (userAgentOf). */
  userAgent?: string | undefined;
}

export class SecretUnavailableError extends Error {
  override name = 'SecretUnavailableError';
}

/** One provider (one SSM client and its cache) per endpoint and user agent, created on first use. */
const providers = new Map<string, Promise<SSMProvider>>();
function ssmProvider({ endpoint, userAgent }: ParameterOptions): Promise<SSMProvider> {
  const key = `${endpoint ?? ''} ${userAgent ?? ''}`;
  let provider = providers.get(key);
  if (!provider) {
    provider = import('@aws-lambda-powertools/parameters/ssm').then(
      ({ SSMProvider }) =>
        new SSMProvider({
          clientConfig: { ...(endpoint ? { endpoint } : {}), ...(userAgent ? { customUserAgent: userAgent } : {}), maxAttempts: 3 },
        }),
    );
    providers.set(key, provider);
    provider.catch(() => providers.delete(key));
  }
  return provider;
}

/** A function that returns the parameter's current value, fetching it at most once per ttlMs. */
export function cachedParameter(name: string, options: ParameterOptions): () => Promise<string> {
  let lastGood: string | undefined;
  let pending: Promise<string> | undefined;
  const read = async () => {
    try {
      const value = await (await ssmProvider(options)).get(name, { decrypt: true, maxAge: options.ttlMs / 1000 });
      if (value === undefined) throw new SecretUnavailableError(`parameter ${name} has no value`);
      lastGood = value;
      return value;
    } catch (error) {
      if (lastGood !== undefined) return lastGood;
      throw new SecretUnavailableError(`could not read the secret parameter ${name}`, { cause: error });
    } finally {
      pending = undefined;
    }
  };
  return () => (pending ??= read());
}
