/** A signed amojo client for the conformance tests that need real chats (incoming chats, chat links). */
import { signRequest } from '../../lib/amojo/signing.ts';
import type { World } from './support.ts';

export interface AmojoChannel {
  id: string;
  secret: string;
  account: string;
}

export interface AmojoCaller {
  call(method: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  connect(): Promise<void>;
  /** A chat created the way an integration creates one; returns the amojo chat id. */
  createChat(conversationId: string, user?: { id: string; name: string }): Promise<string>;
  /** The client writes (incoming: a sender, no receiver); returns the amojo chat id. */
  clientWrites(conversationId: string, text: string, user?: { id: string; name: string; profile?: { phone?: string } }): Promise<string>;
}

export function amojoCaller(w: World, ch: AmojoChannel): AmojoCaller {
  const scope = `${ch.id}_${ch.account}`;
  let seq = 0;
  const call = async (method: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const text = JSON.stringify(body);
    const headers = signRequest(ch.secret, { method, path, date: w.clock.now(), body: text });
    const r = await fetch(`${w.sb.url}${path}`, { method, headers: { ...headers }, body: text });
    const raw = await r.text();
    return { status: r.status, json: raw ? (JSON.parse(raw) as Record<string, unknown>) : {} };
  };
  return {
    call,
    async connect() {
      const r = await call('POST', `/v2/origin/custom/${ch.id}/connect`, { account_id: ch.account, hook_api_version: 'v2' });
      if (r.status !== 200) throw new Error(`connect: ${r.status}`);
    },
    async createChat(conversationId, user = { id: `u-${conversationId}`, name: 'Клиент' }) {
      const r = await call('POST', `/v2/origin/custom/${scope}/chats`, { conversation_id: conversationId, user });
      if (r.status !== 200) throw new Error(`create chat: ${r.status}`);
      return r.json.id as string;
    },
    async clientWrites(conversationId, text, user = { id: `u-${conversationId}`, name: 'Клиент' }) {
      seq += 1;
      const now = w.clock.now();
      const r = await call('POST', `/v2/origin/custom/${scope}`, {
        event_type: 'new_message',
        payload: {
          timestamp: Math.floor(now / 1000),
          msec_timestamp: now,
          msgid: `m-${seq}`,
          conversation_id: conversationId,
          sender: user,
          message: { type: 'text', text },
        },
      });
      if (r.status !== 200) throw new Error(`new_message: ${r.status}`);
      return (r.json.new_message as { conversation_id: string }).conversation_id;
    },
  };
}
