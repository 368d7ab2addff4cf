/**
 * The DynamoDB adapter of the chat scope store (the port: lib/amojo/scopes.ts).
 *
 * Items: pk `CHAT#<account>`, sk `scope` — the account's scope record; pk `CHATSCOPE#<scope id>`,
 * sk `account` — which account a scope belongs to (callbacks name the scope only). Neither
 * expires: a connection lives until it is disconnected.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ChatScope, ScopeStore } from '../amojo/scopes.ts';

export const chatScopePk = (account: string): string => `CHAT#${account}`;
export const chatScopeIndexPk = (scopeId: string): string => `CHATSCOPE#${scopeId}`;

export class ScopeStoreError extends Error {
  override readonly name = 'ScopeStoreError';
}

function toScope(item: Record<string, unknown> | undefined): ChatScope | undefined {
  if (!item) return undefined;
  const s: ChatScope = {
    account: String(item.account),
    channelId: String(item.channelId),
    amojoId: String(item.amojoId),
    scopeId: String(item.scopeId),
    title: String(item.title ?? ''),
    state: item.state === 'disconnected' ? 'disconnected' : 'connected',
    connectedAt: Number(item.connectedAt),
  };
  if (item.disconnectedAt !== undefined) s.disconnectedAt = Number(item.disconnectedAt);
  return s;
}

export class DynamoScopeStore implements ScopeStore {
  constructor(private readonly opts: { doc: DynamoDBDocumentClient; tableName: string }) {}

  async get(account: string): Promise<ChatScope | undefined> {
    try {
      const r = await this.opts.doc.send(
        new GetCommand({ TableName: this.opts.tableName, Key: { pk: chatScopePk(account), sk: 'scope' }, ConsistentRead: true }),
      );
      return toScope(r.Item);
    } catch (cause) {
      throw new ScopeStoreError(`could not read the chat scope of account "${account}"`, { cause });
    }
  }

  async byScopeId(scopeId: string): Promise<ChatScope | undefined> {
    let account: string | undefined;
    try {
      const r = await this.opts.doc.send(
        new GetCommand({ TableName: this.opts.tableName, Key: { pk: chatScopeIndexPk(scopeId), sk: 'account' }, ConsistentRead: true }),
      );
      account = typeof r.Item?.account === 'string' ? r.Item.account : undefined;
    } catch (cause) {
      throw new ScopeStoreError('could not look a chat scope up', { cause });
    }
    if (account === undefined) return undefined;
    const s = await this.get(account);
    // The account may have been connected under another scope since (another channel).
    return s?.scopeId === scopeId ? s : undefined;
  }

  async put(scope: ChatScope): Promise<void> {
    try {
      // The index first: a scope record is never without its way back from the scope id.
      await this.opts.doc.send(
        new PutCommand({
          TableName: this.opts.tableName,
          Item: { pk: chatScopeIndexPk(scope.scopeId), sk: 'account', account: scope.account },
        }),
      );
      await this.opts.doc.send(
        new PutCommand({ TableName: this.opts.tableName, Item: { pk: chatScopePk(scope.account), sk: 'scope', ...scope } }),
      );
    } catch (cause) {
      throw new ScopeStoreError(`could not store the chat scope of account "${scope.account}"`, { cause });
    }
  }
}
