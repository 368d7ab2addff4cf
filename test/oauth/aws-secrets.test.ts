/**
 * The Secrets Manager adapter with a real SDK client against a tiny Secrets Manager stand-in
 * (the JSON protocol over a real socket): prefix, container cache, and errors that name the
 * secret but never carry a value.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsSecretSource } from '../../lib/aws/secrets.ts';
import { SecretNotFoundError } from '../../lib/config/secrets.ts';

const secrets: Record<string, string> = { 'amo-gateway/main-client': 'the-value' };
const asked: string[] = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId: string };
    asked.push(`${target} ${SecretId}`);
    const value = secrets[SecretId];
    res.setHeader('content-type', 'application/x-amz-json-1.1');
    if (target !== 'secretsmanager.GetSecretValue' || value === undefined) {
      res.writeHead(400);
      res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }));
      return;
    }
    res.writeHead(200);
    res.end(
      JSON.stringify({
        ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${SecretId}`,
        Name: SecretId,
        SecretString: value,
        VersionId: 'v1',
      }),
    );
  });
});
let client: SecretsManagerClient;
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  client = new SecretsManagerClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('awsSecretSource', () => {
  it('reads <prefix><name>, caches it in the container, and refuses a missing secret by name only', async () => {
    const s = awsSecretSource({ prefix: 'amo-gateway/', client, maxAgeSeconds: 300 });
    expect(await s.get('main-client')).toBe('the-value');
    expect(await s.get('main-client')).toBe('the-value');
    expect(asked).toEqual(['secretsmanager.GetSecretValue amo-gateway/main-client']);
    const err = await s.get('absent').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretNotFoundError);
    expect((err as Error).message).toBe('secret "absent" not found (Secrets Manager secret "amo-gateway/absent")');
  });

  it('asks again once the cached value is older than maxAgeSeconds, and never keeps a failure', async () => {
    let t = 0;
    asked.length = 0;
    const s = awsSecretSource({ prefix: 'amo-gateway/', client, maxAgeSeconds: 60, now: () => t });
    await Promise.all([s.get('main-client'), s.get('main-client')]);
    t = 59_000;
    await s.get('main-client');
    expect(asked).toHaveLength(1);
    t = 60_000;
    expect(await s.get('main-client')).toBe('the-value');
    expect(asked).toHaveLength(2);
    await expect(s.get('later')).rejects.toBeInstanceOf(SecretNotFoundError);
    secrets['amo-gateway/later'] = 'now-there';
    expect(await s.get('later')).toBe('now-there');
  });
});
