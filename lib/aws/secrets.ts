/**
 * SecretSource on AWS Secrets Manager, through Powertools Parameters (cached in the container for
 * `maxAgeSeconds`, so a warm Lambda does not call Secrets Manager per request). The secret name in
 * the config is prefixed (e.g. `amo-gateway/`) to find the Secrets Manager secret.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretNotFoundError, type SecretSource } from '../config/secrets.ts';

export interface AwsSecretSourceOptions {
  /** Prepended to every name, e.g. `amo-gateway/` (assumed convention; the CDK stack creates secrets under it). */
  prefix?: string;
  /** Container-level cache lifetime; rotation takes effect within it. */
  maxAgeSeconds?: number;
  client?: SecretsManagerClient;
}

export function awsSecretSource(opts: AwsSecretSourceOptions = {}): SecretSource {
  const provider = new SecretsProvider({ awsSdkV3Client: opts.client ?? new SecretsManagerClient({}) });
  const prefix = opts.prefix ?? '';
  const maxAge = opts.maxAgeSeconds ?? 300;
  return {
    async get(name) {
      const id = `${prefix}${name}`;
      let value: unknown;
      try {
        value = await provider.get(id, { maxAge, throwOnMissing: true });
      } catch (e) {
        // Powertools wraps the SDK error; its message names the secret id, never a value.
        throw new SecretNotFoundError(name, `Secrets Manager secret "${id}"`, { cause: e });
      }
      if (typeof value !== 'string' || value === '')
        throw new SecretNotFoundError(name, `Secrets Manager secret "${id}" has no string value`);
      return value;
    },
  };
}
