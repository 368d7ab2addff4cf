/**
 * The DynamoDB adapter of the chat conversation store (the port: lib/amojo/channel-deps.ts).
 *
 * Item: pk `CHATCONV#<account>#<conversation id>`, sk `conv` — the amojo chat id and the linked
 * contact. Never expires: a conversation may come back after months, and its chat is the same.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ConversationRecord, ConversationStore } from '../amojo/channel-deps.ts';

export const chatConversationPk = (account: string, conversationId: string): string => `CHATCONV#${account}#${conversationId}`;

export class DynamoConversationStore implements ConversationStore {
  constructor(private readonly opts: { doc: DynamoDBDocumentClient; tableName: string }) {}

  async get(account: string, conversationId: string): Promise<ConversationRecord | undefined> {
    const r = await this.opts.doc.send(
      new GetCommand({
        TableName: this.opts.tableName,
        Key: { pk: chatConversationPk(account, conversationId), sk: 'conv' },
        ConsistentRead: true,
      }),
    );
    const i = r.Item;
    if (!i) return undefined;
    return {
      account,
      conversationId,
      ...(typeof i.chatId === 'string' ? { chatId: i.chatId } : {}),
      ...(typeof i.contactId === 'number' ? { contactId: i.contactId } : {}),
    };
  }

  async put(rec: ConversationRecord): Promise<void> {
    await this.opts.doc.send(
      new PutCommand({
        TableName: this.opts.tableName,
        Item: { pk: chatConversationPk(rec.account, rec.conversationId), sk: 'conv', ...rec },
      }),
    );
  }
}
