/**
 * SecretSource on AWS Secrets Manager: `GetSecretValue` with the SDK client, the value cached in
 * the container for `maxAgeSeconds` (a warm Lambda does not call Secrets Manager per request;
 * a rotated value applies within that time). The secret name in the config is prefixed (e.g.
 * `amo-gateway/`) to find the Secrets Manager secret. Direct rather than through Powertools
 * Parameters: the same one call, without the provider's ≈ 6 KB in every function that reads a
 * secret (infra/aws/README.md, "What each function bundles").
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretNotFoundError, type SecretSource } from '../config/secrets.ts';

export interface AwsSecretSourceOptions {
  /** Prepended to every name, e.g. `amo-gateway/` (assumed convention; the CDK stack creates secrets under it). */
  prefix?: string;
  /** Container-level cache lifetime; rotation takes effect within it. */
  maxAgeSeconds?: number;
  client?: SecretsManagerClient;
  /** For the cache's expiry. */
  now?: () => number;
}

export function awsSecretSource(opts: AwsSecretSourceOptions = {}): SecretSource {
  let client = opts.client;
  const prefix = opts.prefix ?? '';
  const maxAgeMs = (opts.maxAgeSeconds ?? 300) * 1000;
  const now = opts.now ?? Date.now;
  // One entry per secret id: the value (or the read in flight, which concurrent callers share) and when it expires.
  const cache = new Map<string, { value: Promise<string>; expiresAt: number }>();
  const read = async (name: string, id: string): Promise<string> => {
    let value: string | undefined;
    try {
      client ??= new SecretsManagerClient({});
      value = (await client.send(new GetSecretValueCommand({ SecretId: id }))).SecretString;
    } catch (e) {
      // The SDK's error names the secret id, never a value.
      throw new SecretNotFoundError(name, `Secrets Manager secret "${id}"`, { cause: e });
    }
    if (typeof value !== 'string' || value === '')
      throw new SecretNotFoundError(name, `Secrets Manager secret "${id}" has no string value`);
    return value;
  };
  return {
    async get(name) {
      const id = `${prefix}${name}`;
      const hit = cache.get(id);
      if (hit && hit.expiresAt > now()) return hit.value;
      const value = read(name, id);
      cache.set(id, { value, expiresAt: now() + maxAgeMs });
      // A failed read is not kept: the next call asks again.
      value.catch(() => {
        if (cache.get(id)?.value === value) cache.delete(id);
      });
      return value;
    },
  };
}
