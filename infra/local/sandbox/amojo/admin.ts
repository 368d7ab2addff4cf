/**
 * The amojo admin API under `/_sandbox/amojo/*` (state, hooks sent, "a manager replies",
 * "a manager is typing", reset) and the snapshot it shows. Not part of amojo.
 */
import * as z from 'zod';
import type { SbRoute } from '../types.ts';
import { jsonResponse } from './http.ts';
import { AdminError, reply, typingHook } from './hooks-out.ts';
import { int, nonEmpty } from './schemas.ts';
import type { AmojoCtx } from './state.ts';
import type { AmojoSnapshot } from './types.ts';

const ADMIN_PREFIX = '/_sandbox/amojo';

const adminReplySchema = z.object({
  scope_id: nonEmpty,
  conversation_id: z.string().optional(),
  chat_id: z.string().optional(),
  text: z.string().optional(),
  type: z.enum(['text', 'picture', 'video', 'file', 'voice', 'audio', 'sticker']).optional(),
  media: z.string().optional(),
  file_name: z.string().optional(),
  file_size: int.nonnegative().optional(),
  sender: z.object({ id: z.string().optional(), name: z.string().optional() }).optional(),
  trailing_newline: z.boolean().optional(),
});
const adminTypingSchema = z.object({
  scope_id: nonEmpty,
  conversation_id: z.string().optional(),
  chat_id: z.string().optional(),
  user_id: z.string().optional(),
});

function parseAdmin<T>(schema: z.ZodType<T>, v: unknown): T {
  const r = schema.safeParse(v);
  if (!r.success) throw new AdminError(400, r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return r.data;
}

export function snapshot(ctx: AmojoCtx, scopeId?: string): AmojoSnapshot {
  const st = ctx.st;
  const inScope = <T extends { scope_id: string }>(xs: Iterable<T>): T[] =>
    [...xs].filter((x) => scopeId === undefined || x.scope_id === scopeId);
  return structuredClone({
    channels: [...ctx.channels.values()].map((c) => ({
      id: c.id,
      webhook_url: c.webhookUrl,
      ...(c.title !== undefined ? { title: c.title } : {}),
    })),
    accounts: [...ctx.accounts],
    scopes: inScope(st.scopes.values()),
    chats: inScope(st.chats.values()),
    participants: inScope(st.participants.values()).map(({ scope_id: _s, ...p }) => p),
    messages: inScope(st.messages.values()),
    typing: inScope(st.typing),
    hooks: inScope(st.hooks),
  });
}

export function adminRoute(ctx: AmojoCtx, reset: () => void): SbRoute {
  return async (req) => {
    if (req.path !== ADMIN_PREFIX && !req.path.startsWith(`${ADMIN_PREFIX}/`)) return undefined;
    const sub = req.path.slice(ADMIN_PREFIX.length) || '/';
    const method = req.method.toUpperCase();
    try {
      if (method === 'GET' && (sub === '/' || sub === '/state')) {
        return jsonResponse(200, snapshot(ctx, req.query.get('scope_id') ?? undefined));
      }
      if (method === 'GET' && sub === '/hooks')
        return jsonResponse(200, { hooks: snapshot(ctx, req.query.get('scope_id') ?? undefined).hooks });
      // The demo messenger `npm start` relays managers' replies to (not amojo: the other side of the channel).
      if (method === 'POST' && sub === '/messenger') {
        ctx.st.messengerInbox.push({ at: ctx.nowMs(), headers: req.headers, body: req.body.toString('utf8') });
        if (ctx.st.messengerInbox.length > 1000) ctx.st.messengerInbox.shift();
        return jsonResponse(200, { ok: true });
      }
      if (method === 'GET' && sub === '/messenger') return jsonResponse(200, { received: ctx.st.messengerInbox });
      if (method === 'POST' && sub === '/reset') {
        reset();
        return jsonResponse(200, { ok: true });
      }
      if (method === 'POST' && (sub === '/reply' || sub === '/typing')) {
        let body: unknown;
        try {
          body = JSON.parse(req.body.toString('utf8'));
        } catch {
          throw new AdminError(400, 'body must be JSON');
        }
        if (sub === '/reply') {
          const input = parseAdmin(adminReplySchema, body);
          const r = await reply(ctx, input);
          return jsonResponse(200, r);
        }
        const input = parseAdmin(adminTypingSchema, body);
        return jsonResponse(200, { hook: await typingHook(ctx, input) });
      }
      return jsonResponse(404, {
        error: 'unknown sandbox amojo admin path',
        paths: ['GET /state', 'GET /hooks', 'POST /reply', 'POST /typing', 'POST /reset', 'POST|GET /messenger'],
      });
    } catch (e) {
      if (e instanceof AdminError) return jsonResponse(e.status, { error: e.message });
      throw e;
    }
  };
}
