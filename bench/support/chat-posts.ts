/**
 * The two chat requests the ack benches send to a local runner: a message from your messenger
 * (`POST /chat/{channel}/messages`, API key) in one of 20 conversations, and amojo's signed
 * callback (`POST /chat/amojo/{scope_id}`).
 */
import { LOCAL_MESSENGER } from '../../infra/local/chat.ts';
import { signCallbackBody } from '../../lib/amojo/signing.ts';

/** Message `i` of the run `run` (`id` unique per run and i), from conversation `<label>-<i % 20>`. */
export const postChatInbound = (base: string, apiKey: string, run: string, label: string, i: number): Promise<Response> =>
  fetch(`${base}/chat/${LOCAL_MESSENGER}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
    body: JSON.stringify({
      id: `${run}-${i}-${Math.random().toString(36).slice(2, 8)}`,
      conversation_id: `${label}-${i % 20}`,
      sender: { id: `u${i % 20}`, name: `${label} ${i % 20}` },
      message: { type: 'text', text: `${label} message ${i}` },
    }),
  });

/** amojo's callback `cb-<run>-<i>` to `scope`, signed with the channel secret. */
export function postAmojoCallback(base: string, scope: string, secret: string, run: string, i: number): Promise<Response> {
  const body = JSON.stringify({
    account_id: 'bench',
    time: Math.floor(Date.now() / 1000),
    message: { message: { id: `cb-${run}-${i}`, type: 'text', text: 'x' }, conversation: { id: 'c', client_id: 'demo:none' } },
  });
  return fetch(`${base}/chat/amojo/${scope}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': signCallbackBody(secret, body) },
    body,
  });
}
