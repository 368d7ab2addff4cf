/**
 * `/api/v4/contacts` and `/api/v4/companies` (amoCRM contacts-api / companies-api), plus chat links
 * `POST|GET /api/v4/contacts/chats` (contacts-api "Привязка чатов к контактам").
 */
import { badRequest, E, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import { hal, noContent, problem, queryList } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import { readBatch, requestIdOf } from './common.ts';
import { isRecord } from '../http-util.ts';
import { addHandler, getOneHandler, listHandler, patchHandler, patchOneHandler } from './entity-routes.ts';

export function contactRoutes(): RestRoute[] {
  return [
    { method: 'GET', template: '/api/v4/contacts', handler: listHandler('contacts') },
    { method: 'POST', template: '/api/v4/contacts', handler: addHandler('contacts') },
    { method: 'PATCH', template: '/api/v4/contacts', handler: patchHandler('contacts') },
    { method: 'POST', template: '/api/v4/contacts/chats', handler: linkChats },
    { method: 'GET', template: '/api/v4/contacts/chats', handler: listChats },
    { method: 'GET', template: '/api/v4/contacts/{id}', handler: getOneHandler('contacts') },
    { method: 'PATCH', template: '/api/v4/contacts/{id}', handler: patchOneHandler('contacts') },
    { method: 'GET', template: '/api/v4/companies', handler: listHandler('companies') },
    { method: 'POST', template: '/api/v4/companies', handler: addHandler('companies') },
    { method: 'PATCH', template: '/api/v4/companies', handler: patchHandler('companies') },
    { method: 'GET', template: '/api/v4/companies/{id}', handler: getOneHandler('companies') },
    { method: 'PATCH', template: '/api/v4/companies/{id}', handler: patchOneHandler('companies') },
  ];
}

/**
 * A chat the calling integration may link or read: it exists in amojo, on a channel whose settings
 * name this integration, connected for this account (contacts-api «В настройках канала должен быть
 * указан uuid интеграции, которая запрашивает метод. Интеграция может менять привязку чатов только
 * по каналам, к которым она имеет доступ»). *assumed*: a disconnected channel's chats are out too.
 */
function chatVisible(ctx: RestCtx, chatId: string): boolean {
  const a = ctx.amojo.chatAccess(chatId);
  return (
    a !== undefined &&
    a.connected &&
    a.account_id === ctx.state.account.amojoId &&
    a.channel_client_id !== undefined &&
    a.channel_client_id === ctx.clientId
  );
}

/** contacts-api «Метод доступен с правами администратора аккаунта»; the 403 body *assumed*. */
function adminOnly(ctx: RestCtx) {
  if (ctx.state.users.get(ctx.userId)?.is_admin) return undefined;
  return problem(403, { title: 'Forbidden', type: 'https://httpstatus.es/403', status: 403, detail: 'Access denied' });
}

/**
 * `[{contact_id, chat_id, request_id?}]` → `{_total_items, _embedded: {chats: [{chat_id, contact_id, id, request_id}]}}`.
 * «Чат может быть привязан только к 1 контакту». Refused, each as a validation error on its item
 * (codes *assumed*; the page documents none): an unknown contact → `NotFound` on `contact_id`; a chat
 * the integration may not see (unknown, another integration's channel, another account) → `NotFound`
 * on `chat_id`; a chat linked to another contact, an Unsorted chat included, → `NotUnique` on
 * `chat_id` (*assumed*: the page says link ids change «при изменении привязки» but names no API that
 * moves a chat; an Unsorted chat moves through `unsorted/{uid}/link`). Linking the same pair again
 * answers the existing link.
 */
function linkChats(ctx: RestCtx) {
  const denied = adminOnly(ctx);
  if (denied) return denied;
  const body = readBatch(ctx);
  if (!body.ok) return body.res;
  const failed: RequestErrors[] = [];
  const inBatch = new Map<string, number>();
  body.value.forEach((item, i) => {
    const errs: FieldError[] = [];
    if (!isRecord(item)) errs.push(E.type('item', 'object'));
    else {
      if (typeof item.contact_id !== 'number' || !Number.isInteger(item.contact_id)) errs.push(E.type('contact_id', 'int'));
      else if (!ctx.state.contacts.has(item.contact_id)) errs.push(E.notFound('contact_id'));
      if (typeof item.chat_id !== 'string' || item.chat_id === '') errs.push(E.blank('chat_id'));
      else if (!chatVisible(ctx, item.chat_id)) errs.push(E.notFound('chat_id'));
      else if (typeof item.contact_id === 'number') {
        const linked = [...ctx.state.chatLinks.values()].find((l) => l.chat_id === item.chat_id)?.contact_id ?? inBatch.get(item.chat_id);
        if (linked !== undefined && linked !== item.contact_id)
          errs.push({ code: 'NotUnique', path: 'chat_id', detail: 'The chat is already linked to another contact.' });
        else inBatch.set(item.chat_id, item.contact_id);
      }
    }
    if (errs.length) failed.push({ request_id: requestIdOf(item, i), errors: errs });
  });
  if (failed.length) return validationFailed(failed);
  const chats = body.value.map((item, i) => {
    const o = item as { chat_id: string; contact_id: number };
    let l = [...ctx.state.chatLinks.values()].find((x) => x.chat_id === o.chat_id);
    if (!l) {
      l = { id: ctx.state.nextId('chatLink'), chat_id: o.chat_id, contact_id: o.contact_id };
      ctx.state.chatLinks.set(l.id, l);
    }
    return { chat_id: l.chat_id, contact_id: l.contact_id, id: l.id, request_id: requestIdOf(item, i) };
  });
  return hal(200, { _total_items: chats.length, _embedded: { chats } });
}

/**
 * `GET /api/v4/contacts/chats?contact_id=…&chat_id=…` (each may be a list): only links of chats the
 * integration may see («Интеграция может запросить только чаты по каналам, к которым она имеет
 * доступ»); none → 204. Neither parameter, or a contact_id that is not an integer → 400 (the page
 * lists 400 for wrong data; which data is wrong *assumed*).
 */
function listChats(ctx: RestCtx) {
  const denied = adminOnly(ctx);
  if (denied) return denied;
  const rawContacts = queryList(ctx.query.contact_id);
  const chatIds = queryList(ctx.query.chat_id);
  if (rawContacts.length === 0 && chatIds.length === 0) return badRequest('contact_id or chat_id is required');
  if (rawContacts.some((x) => !/^\d+$/.test(x))) return validationFailed([{ request_id: '0', errors: [E.type('contact_id', 'int')] }]);
  const contactIds = rawContacts.map(Number);
  const chats = [...ctx.state.chatLinks.values()]
    .filter(
      (l) =>
        (contactIds.length === 0 || contactIds.includes(l.contact_id)) &&
        (chatIds.length === 0 || chatIds.includes(l.chat_id)) &&
        chatVisible(ctx, l.chat_id),
    )
    .map((l) => ({ chat_id: l.chat_id, contact_id: l.contact_id, id: l.id }));
  if (chats.length === 0) return noContent();
  return hal(200, { _total_items: chats.length, _embedded: { chats } });
}
