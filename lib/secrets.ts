/**
 * Secrets read at run time from SSM Parameter Store (SecureString), or from Secrets Manager
 * through SSM's /aws/reference/secretsmanager/<secret-id> path, and cached across invocations.
 * The SSM client is imported on first use, so it costs nothing at cold start.
 */
export interface ParameterOptions {
  ttlMs: number;
  /** For tests and other regions' endpoints; empty for AWS. */
  endpoint?: string | undefined;
  now?: () => number;
}

export class SecretUnavailableError extends Error {}

type Fetcher = (name: string) => Promise<string>;

let sharedFetcher: Promise<Fetcher> | undefined;
async function ssmFetcher(endpoint: string | undefined): Promise<Fetcher> {
  const { SSMClient, GetParameterCommand } = await import('@aws-sdk/client-ssm');
  const client = new SSMClient({ ...(endpoint ? { endpoint } : {}), maxAttempts: 3 });
  return async (name) => {
    const answer = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const value = answer.Parameter?.Value;
    if (value === undefined) throw new SecretUnavailableError(`parameter ${name} has no value`);
    return value;
  };
}

/** A function that returns the parameter's current value, fetching it at most once per ttlMs. */
export function cachedParameter(name: string, options: ParameterOptions): () => Promise<string> {
  const now = options.now ?? Date.now;
  let value: string | undefined;
  let fetchedAt = 0;
  let pending: Promise<string> | undefined;
  return async () => {
    if (value !== undefined && now() - fetchedAt < options.ttlMs) return value;
    pending ??= (async () => {
      try {
        sharedFetcher ??= ssmFetcher(options.endpoint);
        const fetched = await (await sharedFetcher)(name);
        value = fetched;
        fetchedAt = now();
        return fetched;
      } catch (error) {
        sharedFetcher = undefined;
        if (value !== undefined) return value; // keep serving the last good value while SSM is unreachable
        // The message names the parameter, never its value.
        throw new SecretUnavailableError(`could not read the secret parameter ${name}`, { cause: error });
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };
}
