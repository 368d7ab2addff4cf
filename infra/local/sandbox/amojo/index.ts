/**
 * The sandbox's amojo (Chat API): a strict stand-in for `https://amojo.amocrm.ru/v2/origin/custom/*`
 * and the hooks amojo sends to a channel when a manager writes in amoCRM.
 *
 * Every rule carries its source (a section of docs/amojo-protocol.md, or a `[name]` listed in its #sources) or the word
 * *assumed* where the docs are silent. Signature rules live in lib/amojo/signing.ts, shared with the
 * real client, so the sandbox and the client cannot drift apart.
 *
 * Mounted by the sandbox core (index.ts): `route` for `/v2/origin/custom/*`, `adminRoute` for
 * `/_sandbox/amojo/*`. One file per family, as the REST resources are: channels (connect,
 * disconnect), chats (create, history, typing), messages (new/edit, delivery status, react),
 * hooks-out (amojo → channel), admin; `state.ts` holds what they share.
 */
import type { SbRequest, SbResponse, SbRoute } from '../types.ts';
import { adminRoute, snapshot } from './admin.ts';
import { connect, disconnect } from './channels.ts';
import { createChat, history, typingIn } from './chats.ts';
import { reply, typingHook } from './hooks-out.ts';
import { AmojoHttpError, errorResponse } from './http.ts';
import { deliveryStatus, postToScope, react } from './messages.ts';
import { requireSignature } from './signing-check.ts';
import { channelOfScope, connectedScope, createCtx, emptyState, type AmojoCtx } from './state.ts';
import type { AmojoSandbox, CreateAmojoOptions } from './types.ts';

export type * from './types.ts';

const PREFIX = '/v2/origin/custom/';

type Shape = 'root' | 'chats' | 'typing' | 'react' | 'delivery_status' | 'history';

function shapeOf(rest: string[]): Shape | undefined {
  if (rest.length === 0) return 'root';
  if (rest.length === 1 && (rest[0] === 'chats' || rest[0] === 'typing' || rest[0] === 'react')) return rest[0];
  if (rest.length === 2 && rest[1] === 'delivery_status') return 'delivery_status';
  if (rest.length === 3 && rest[0] === 'chats' && rest[2] === 'history') return 'history';
  return undefined;
}

async function handle(ctx: AmojoCtx, req: SbRequest): Promise<SbResponse> {
  const segs = req.path.slice(PREFIX.length).split('/');
  const method = req.method.toUpperCase();
  const want = (m: string): void => {
    // *assumed*: a known path with another method answers 405 with the same error body.
    if (method !== m) throw new AmojoHttpError(405, 'METHOD_NOT_ALLOWED', `use ${m} for this path`);
  };
  if (segs.some((s) => s === '')) throw new AmojoHttpError(404, 'NOT_FOUND', 'unknown path');

  // /{channel_id}/connect and /{channel_id}/disconnect (#endpoints).
  if (segs.length === 2 && (segs[1] === 'connect' || segs[1] === 'disconnect')) {
    const channel = ctx.channels.get(segs[0]!);
    if (!channel) throw new AmojoHttpError(404, 'NOT_FOUND', 'channel does not exist'); // "404 Канал не существует"
    want(segs[1] === 'connect' ? 'POST' : 'DELETE');
    requireSignature(ctx, req, channel);
    return segs[1] === 'connect' ? connect(ctx, req, channel) : disconnect(ctx, req, channel);
  }

  const scopeId = segs[0]!;
  const channel = channelOfScope(ctx, scopeId);
  if (!channel) throw new AmojoHttpError(404, 'NOT_FOUND', 'channel does not exist');
  const rest = segs.slice(1);
  const shape = shapeOf(rest);
  if (shape === undefined) throw new AmojoHttpError(404, 'NOT_FOUND', 'unknown path');
  want(shape === 'history' ? 'GET' : 'POST');
  // The signature is checked before the scope: it is the channel's secret that signs.
  requireSignature(ctx, req, channel);
  const scope = connectedScope(ctx, scopeId);
  switch (shape) {
    case 'root':
      return postToScope(ctx, req, scope);
    case 'chats':
      return createChat(ctx, req, scope);
    case 'typing':
      return typingIn(ctx, req, scope);
    case 'react':
      return react(ctx, req, scope);
    case 'delivery_status':
      return deliveryStatus(ctx, req, scope, rest[0]!);
    case 'history':
      return history(ctx, req, scope, rest[1]!);
  }
}

export function createAmojo(opts: CreateAmojoOptions): AmojoSandbox {
  const ctx = createCtx(opts);
  const reset = (): void => {
    ctx.st = emptyState();
  };
  // Every answer carries amojo's own `Date` (an origin server with a clock sends one: RFC 9110
  // §6.6.1), from the sandbox clock, so a client can tell its clock's skew from a bad secret.
  const dated = (res: SbResponse): SbResponse => ({ ...res, headers: { ...res.headers, date: new Date(ctx.nowMs()).toUTCString() } });
  const route: SbRoute = async (req) => {
    if (!req.path.startsWith(PREFIX)) return undefined;
    try {
      return dated(await handle(ctx, req));
    } catch (e) {
      if (e instanceof AmojoHttpError) {
        if (e.status !== 403) ctx.log(`amojo ${req.method} ${req.path} → ${e.status} ${e.type}`);
        return dated(errorResponse(e.status, e.type, e.message));
      }
      throw e;
    }
  };
  return {
    route,
    adminRoute: adminRoute(ctx, reset),
    reset,
    reply: (input) => reply(ctx, input),
    typing: (input) => typingHook(ctx, input),
    snapshot: (scopeId) => snapshot(ctx, scopeId),
    addChannel: (c) => {
      ctx.channels.set(c.id, { ...c });
    },
    chatAccess: (chatId) => {
      const chat = ctx.st.chats.get(chatId);
      const scope = chat ? ctx.st.scopes.get(chat.scope_id) : undefined;
      if (!chat || !scope) return undefined;
      const clientId = ctx.channels.get(scope.channel_id)?.clientId;
      return {
        chat_id: chat.id,
        channel_id: scope.channel_id,
        account_id: scope.account_id,
        connected: scope.connected,
        ...(clientId !== undefined ? { channel_client_id: clientId } : {}),
      };
    },
  };
}
