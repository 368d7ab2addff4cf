/**
 * The chat channel's wiring (lib/amojo/README.md), shared by the deployed worker and the local
 * runner: the amojo client and channel over the scope store, the conversation store, the contact
 * finder over the container's REST client runtime, and the two processors — `chat-inbound`
 * (your messenger → amojo) and `amojo-callback` (a manager's reply → your messenger).
 * Built only when the config has a `chat` section with messengers.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AmoClientForAccount } from '../amocrm/client/client.ts';
import type { Log } from '../common/log.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { Config } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import type { RouteProcessor } from '../pipeline/registry.ts';
import { DynamoConversationStore } from '../store/amojo-conversations.ts';
import { DynamoScopeStore } from '../store/amojo-scopes.ts';
import { DynamoContactIndex } from '../store/contact-index.ts';
import { chatProcessors } from './chat-processors.ts';

export interface ChatRuntimeDeps {
  config: Config;
  secrets: SecretSource;
  doc: DynamoDBDocumentClient;
  tableName: string;
  clientFor: (accountId: string) => AmoClientForAccount;
  log: Log;
  metrics?: MetricsSink;
  fetch?: typeof fetch;
  now?: () => number;
}

/** The chat routes' processors over the one table, or none when the config has no chat messengers. */
export function createChatProcessors(d: ChatRuntimeDeps): Record<string, RouteProcessor> {
  const store = { doc: d.doc, tableName: d.tableName };
  return chatProcessors({
    ...d,
    scopes: new DynamoScopeStore(store),
    conversations: new DynamoConversationStore(store),
    contactIndex: new DynamoContactIndex(store),
  });
}
