/**
 * What the channel's two processors (inbound.ts, relay.ts) are built with, and the conversation
 * store's port (its DynamoDB adapter: lib/store/amojo-conversations.ts). The wiring is
 * lib/aws/chat-runtime.ts, for the deployed worker and the local runner alike.
 */
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { ContactFinder, PersonKey } from '../contacts/types.ts';
import type { AmojoClient } from './client.ts';
import type { ChatConfig } from './config.ts';
import type { AmojoChannel, ScopeStore } from './scopes.ts';

/** One conversation of a messenger in amoCRM: its amojo chat and the contact that chat is linked to. */
export interface ConversationRecord {
  account: string;
  /** Ours at amojo: `<channel>:<messenger's conversation id>`. */
  conversationId: string;
  chatId?: string;
  contactId?: number;
}

export interface ConversationStore {
  get(account: string, conversationId: string): Promise<ConversationRecord | undefined>;
  put(record: ConversationRecord): Promise<void>;
}

export interface ChatChannelDeps {
  config: ChatConfig;
  client: AmojoClient;
  channel: AmojoChannel;
  scopes: ScopeStore;
  conversations: ConversationStore;
  clientFor: (account: string) => AmoClientForAccount;
  finder: ContactFinder;
  /** Phone to E.164, e-mail lower-cased (lib/contacts normalizePerson with the configured country). */
  normalize: (p: PersonKey) => PersonKey;
  /** The channel secret, resolved (callbacks are verified with it). */
  channelSecret: () => Promise<string>;
  /** A messenger's relay secret, resolved. */
  messengerSecret: (messengerId: string) => Promise<string>;
  fetch: typeof fetch;
  metrics: MetricsSink;
  now: () => number;
  /** The `amojo` queue's maxAttempts: the relay's last try sends the failure status before it parks. */
  relayMaxAttempts: number;
  onChatCreated?: (account: string) => void;
}
