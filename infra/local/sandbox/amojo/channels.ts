/** `POST /{channel_id}/connect` and `DELETE /{channel_id}/disconnect` (docs/amojo-protocol.md#endpoints). */
import type { SbRequest, SbResponse } from '../types.ts';
import { bad, jsonBody, jsonResponse, parseWith } from './http.ts';
import { connectSchema, disconnectSchema } from './schemas.ts';
import type { AmojoCtx } from './state.ts';
import type { AmojoChannelConfig, ScopeView } from './types.ts';

export function connect(ctx: AmojoCtx, req: SbRequest, channel: AmojoChannelConfig): SbResponse {
  const body = parseWith(connectSchema, jsonBody(req), '');
  // *assumed*: an account the channel does not know is bad data (400); the docs give no code for it.
  if (!ctx.accounts.has(body.account_id)) throw bad(`account_id ${body.account_id} is not an account this channel may connect`);
  const scopeId = `${channel.id}_${body.account_id}`;
  const prev = ctx.st.scopes.get(scopeId);
  const scope: ScopeView = {
    scope_id: scopeId,
    channel_id: channel.id,
    account_id: body.account_id,
    title: body.title ?? channel.title ?? channel.id,
    // "По умолчанию v1" ([chat-api] connect): always send "v2".
    hook_api_version: body.hook_api_version ?? 'v1',
    connected: true,
    connected_at: prev?.connected ? prev.connected_at : ctx.nowMs(),
    ...(body.is_time_window_disabled !== undefined ? { is_time_window_disabled: body.is_time_window_disabled } : {}),
  };
  ctx.st.scopes.set(scopeId, scope);
  ctx.log(`amojo connect ${scopeId} (hooks ${scope.hook_api_version})`);
  // "Метод вернет переданные поля запроса, и scope_id" ([chat-api]; [chat-steps] response has no is_time_window_disabled when not sent).
  return jsonResponse(200, {
    account_id: scope.account_id,
    scope_id: scopeId,
    title: scope.title,
    hook_api_version: scope.hook_api_version,
    ...(scope.is_time_window_disabled !== undefined ? { is_time_window_disabled: scope.is_time_window_disabled } : {}),
  });
}

export function disconnect(ctx: AmojoCtx, req: SbRequest, channel: AmojoChannelConfig): SbResponse {
  const body = parseWith(disconnectSchema, jsonBody(req), '');
  if (!ctx.accounts.has(body.account_id)) throw bad(`account_id ${body.account_id} is not an account this channel knows`);
  const scope = ctx.st.scopes.get(`${channel.id}_${body.account_id}`);
  // *assumed*: disconnecting an account that is not connected is a no-op 200 (idempotent).
  if (scope && scope.connected) {
    scope.connected = false;
    scope.disconnected_at = ctx.nowMs();
  }
  ctx.log(`amojo disconnect ${channel.id}_${body.account_id}`);
  return { status: 200 }; // "Метод не возвращает тела ответа" ([chat-api])
}
