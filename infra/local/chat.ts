/**
 * The chat channel in `npm start` (lib/amojo/README.md): the sandbox's amojo gets a registered
 * channel (as amoCRM support would register ours) whose callbacks come to our
 * `/chat/amojo/{scope_id}`, the generated config a `chat` section with one messenger, `demo`
 * (its webhook: the sandbox's demo messenger, `GET /_sandbox/amojo/messenger` shows what it got),
 * and the channel is connected at start, so `POST /chat/demo/messages` works out of the box.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { OAuth } from '../../lib/amocrm/oauth/index.ts';
import type { MetricsSink } from '../../lib/common/metrics-sink.ts';
import type { Config, ConfigInput } from '../../lib/config/schema.ts';
import type { SecretSource } from '../../lib/config/secrets.ts';
import { AmojoClient, AmojoChannel, amojoBaseUrl } from '../../lib/amojo/index.ts';
import { createAmoClientRuntime } from '../../lib/aws/amo-client-runtime.ts';
import { createChatProcessors } from '../../lib/aws/chat-runtime.ts';
import type { ProcessorMap } from '../../lib/pipeline/registry.ts';
import { DynamoScopeStore } from '../../lib/store/amojo-scopes.ts';
import type { LocalLog } from './log.ts';
import type { Sandbox } from './sandbox/index.ts';

export const LOCAL_CHAT_SECRETS = {
  channel: 'local-sandbox/chat-channel-secret',
  apiKey: 'local-sandbox/chat-api-key',
  messenger: 'local-sandbox/chat-messenger-secret',
} as const;
export const LOCAL_MESSENGER = 'demo';

/** The channel id, stable per integration (a UUID-shaped digest of the client id). */
function channelIdFor(clientId: string): string {
  const h = createHash('sha256').update(`chat-channel:${clientId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The chat secrets: kept in the data dir's secrets file when there is one (read only: the caller writes). */
export function localChatSecrets(dataDir: string | undefined): Record<string, string> {
  let kept: Record<string, unknown> = {};
  const file = dataDir ? join(dataDir, 'secrets.json') : undefined;
  if (file && existsSync(file)) {
    try {
      kept = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      kept = {};
    }
  }
  const out: Record<string, string> = {};
  for (const name of Object.values(LOCAL_CHAT_SECRETS)) {
    const v = kept[name];
    out[name] = typeof v === 'string' && v !== '' ? v : randomBytes(24).toString('hex');
  }
  return out;
}

export interface LocalChatOptions {
  /** Messengers of the generated config (default: `demo`, relayed to the sandbox's demo messenger). */
  messengers?: Array<{ id: string; webhookUrl: string; secret?: string }>;
}

/** The generated config's `chat` section, and the channel registered in the sandbox's amojo. */
export function localChatSection(a: {
  clientId: string;
  runnerUrl: string;
  sandbox: Sandbox;
  account: string;
  options?: LocalChatOptions;
  secrets: Record<string, string>;
}): { section: NonNullable<ConfigInput['chat']>; secrets: Record<string, string> } {
  const channelId = channelIdFor(a.clientId);
  a.sandbox.amojo.addChannel({
    id: channelId,
    secret: a.secrets[LOCAL_CHAT_SECRETS.channel] as string,
    title: 'Local chat',
    webhookUrl: `${a.runnerUrl}/chat/amojo/:scope_id`,
    clientId: a.clientId,
  });
  const messengers = a.options?.messengers ?? [{ id: LOCAL_MESSENGER, webhookUrl: `${a.sandbox.url}/_sandbox/amojo/messenger` }];
  const secrets = { ...a.secrets };
  for (const m of messengers) if (m.secret !== undefined) secrets[`local-sandbox/chat-messenger-${m.id}`] = m.secret;
  return {
    section: {
      channel: { id: channelId, secret: { secret: LOCAL_CHAT_SECRETS.channel }, title: 'Local chat' },
      accounts: [{ account: a.account }],
      messengers: messengers.map((m) => ({
        id: m.id,
        account: a.account,
        webhookUrl: m.webhookUrl,
        webhookSecret: { secret: m.secret !== undefined ? `local-sandbox/chat-messenger-${m.id}` : LOCAL_CHAT_SECRETS.messenger },
        timeoutMs: 2000,
      })),
      inboundApiKey: { secret: LOCAL_CHAT_SECRETS.apiKey },
    },
    secrets,
  };
}

/** The chat processors for the local worker (lib/aws/chat-runtime.ts, as in AWS). */
export function localChat(
  config: Config,
  secrets: SecretSource,
  oauth: OAuth,
  doc: DynamoDBDocumentClient,
  tableName: string,
  log: LocalLog,
  metrics: MetricsSink,
  fetchFn?: typeof fetch,
): ProcessorMap {
  const amo = createAmoClientRuntime({ config, oauth: oauth.provider, doc, tableName, log: log.pipeline('amocrm'), metrics });
  return createChatProcessors({
    config,
    secrets,
    doc,
    tableName,
    clientFor: (id) => amo.clientFor(id),
    log: log.pipeline('chat'),
    metrics,
    ...(fetchFn ? { fetch: fetchFn } : {}),
  });
}

/** Connects the channel for the sandbox account (as `amo-gateway chat connect` does) and stores the scope. */
export async function connectLocalChat(
  config: Config,
  secrets: SecretSource,
  sandbox: Sandbox,
  store: { doc: DynamoDBDocumentClient; tableName: string },
): Promise<string | undefined> {
  const chat = config.chat;
  const entry = chat?.accounts[0];
  const account = config.accounts.find((x) => x.id === entry?.account);
  if (!chat || !entry || !account) return undefined;
  const client = new AmojoClient({
    baseUrl: amojoBaseUrl(chat, account),
    channelId: chat.channel.id,
    secret: await secrets.get(chat.channel.secret.secret),
  });
  const channel = new AmojoChannel({ client, store: new DynamoScopeStore(store) });
  const amojoId = sandbox.accounts[0]?.amojoId;
  if (!amojoId) return undefined;
  const scope = await channel.connect(account.id, amojoId, chat.channel.title);
  return scope.scopeId;
}

/** The inbound route's API keys (the local runner's stand-in for API Gateway's usage plan). */
export async function localEdgeKeys(config: Config | undefined, secrets: SecretSource | undefined): Promise<ReadonlySet<string>> {
  const ref = config?.chat?.inboundApiKey;
  if (!ref || !secrets) return new Set();
  return new Set([await secrets.get(ref.secret)]);
}
