/**
 * The chat channel's two processors (lib/amojo/README.md) over the stores they are given:
 * `chat-inbound` (your messenger → amojo) and `amojo-callback` (a manager's reply → your
 * messenger). No AWS SDK here, nor anywhere this module reaches: the worker imports it at the first
 * message of a chat queue (lib/aws/worker-runtime.ts; test/layout.test.ts holds it SDK-free);
 * lib/aws/chat-runtime.ts gives it the DynamoDB stores for the local runner.
 */
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { Log } from '../common/log.ts';
import { noMetrics, type MetricsSink } from '../common/metrics-sink.ts';
import type { Config } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import { createContactFinder } from '../contacts/finder.ts';
import type { ContactIndexStore } from '../contacts/index-store.ts';
import { normalizePerson } from '../contacts/normalize.ts';
import { AmojoClient } from '../amojo/client.ts';
import type { ConversationStore } from '../amojo/channel-deps.ts';
import { amojoBaseUrl } from '../amojo/hosts.ts';
import { createInboundProcessor } from '../amojo/inbound.ts';
import { createRelayProcessor } from '../amojo/relay.ts';
import { AmojoChannel, type ScopeStore } from '../amojo/scopes.ts';
import type { RouteProcessor } from '../pipeline/registry.ts';
import { routeTable } from '../routes.ts';
import { contactsCountry } from './contacts-config.ts';

export const CHAT_ROUTES = { inbound: 'chat-inbound', callback: 'amojo-callback' } as const;

export interface ChatParts {
  config: Config;
  secrets: SecretSource;
  clientFor: (accountId: string) => AmoClientForAccount;
  /** The amojo scopes of the connected accounts. */
  scopes: ScopeStore;
  conversations: ConversationStore;
  /** The contact index the finder reads (lib/contacts). */
  contactIndex: ContactIndexStore;
  log: Log;
  metrics?: MetricsSink;
  fetch?: typeof fetch;
  now?: () => number;
}

/** The chat routes' processors, or none when the config has no chat messengers. */
export function chatProcessors(d: ChatParts): Record<string, RouteProcessor> {
  const chat = d.config.chat;
  if (!chat || chat.messengers.length === 0) return {};
  // One channel, one amojo host: the first chat account's (every account of one installation shares it).
  const first = d.config.accounts.find((a) => a.id === chat.accounts[0]?.account);
  if (!first) return {};
  let secret: Promise<string> | undefined;
  const channelSecret = () => (secret ??= d.secrets.get(chat.channel.secret.secret));
  const scopes = d.scopes;
  const metrics = d.metrics ?? noMetrics;
  const country = contactsCountry(d.config);
  const finder = createContactFinder({ clientFor: d.clientFor, index: d.contactIndex, log: d.log, defaultCountry: country, metrics });
  const maxAttempts = routeTable.queues.find((q) => q.id === 'amojo')?.maxAttempts ?? 5;
  // The client signs with the resolved channel secret, so the processors are built at their first message.
  let built: ReturnType<typeof build> | undefined;
  function build(secretValue: string) {
    const signed = new AmojoClient({
      baseUrl: amojoBaseUrl(chat!, first!),
      channelId: chat!.channel.id,
      secret: secretValue,
      timeoutMs: chat!.timeoutMs,
      ...(d.fetch ? { fetch: d.fetch } : {}),
    });
    const channel = new AmojoChannel({
      client: signed,
      store: scopes,
      onReconnect: (a) => d.log.info('amojo channel reconnected', { account: a }),
    });
    const deps = {
      config: chat!,
      client: signed,
      channel,
      scopes,
      conversations: d.conversations,
      clientFor: d.clientFor,
      finder,
      normalize: (p: Parameters<typeof normalizePerson>[0]) => normalizePerson(p, country),
      channelSecret,
      messengerSecret: (id: string) => {
        const m = chat!.messengers.find((x) => x.id === id);
        if (!m) return Promise.reject(new Error(`no messenger "${id}"`));
        return d.secrets.get(m.webhookSecret.secret);
      },
      fetch: d.fetch ?? globalThis.fetch,
      metrics,
      now: d.now ?? Date.now,
      relayMaxAttempts: maxAttempts,
    };
    return { inbound: createInboundProcessor(deps), relay: createRelayProcessor(deps) };
  }
  const ready = async () => (built ??= build(await channelSecret()));
  return {
    [CHAT_ROUTES.inbound]: async (env, ctx) => (await ready()).inbound(env, ctx),
    [CHAT_ROUTES.callback]: async (env, ctx) => (await ready()).relay(env, ctx),
  };
}
