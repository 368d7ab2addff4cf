/**
 * `/api/v4/contacts` and `/api/v4/companies` (amoCRM contacts-api / companies-api), plus chat links
 * `POST|GET /api/v4/contacts/chats` (contacts-api "Привязка чатов к контактам").
 */
import { E, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import { hal, noContent, queryList } from '../http-util.ts';
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
 * `[{contact_id, chat_id, request_id?}]` → `{_total_items, _embedded: {chats: [{chat_id, contact_id, id, request_id}]}}`.
 * "Чат может быть привязан только к 1 контакту": relinking moves the chat and the link gets a new id
 * ("может меняться при изменении привязки"). Unknown contact → validation error (*assumed*).
 */
function linkChats(ctx: RestCtx) {
  const body = readBatch(ctx);
  if (!body.ok) return body.res;
  const failed: RequestErrors[] = [];
  body.value.forEach((item, i) => {
    const errs: FieldError[] = [];
    if (!isRecord(item)) errs.push(E.type('item', 'object'));
    else {
      if (typeof item.chat_id !== 'string' || item.chat_id === '') errs.push(E.blank('chat_id'));
      if (typeof item.contact_id !== 'number') errs.push(E.type('contact_id', 'int'));
      else if (!ctx.state.contacts.has(item.contact_id)) errs.push(E.notFound('contact_id'));
    }
    if (errs.length) failed.push({ request_id: requestIdOf(item, i), errors: errs });
  });
  if (failed.length) return validationFailed(failed);
  const chats = body.value.map((item, i) => {
    const o = item as { chat_id: string; contact_id: number };
    const existing = [...ctx.state.chatLinks.values()].find((l) => l.chat_id === o.chat_id);
    if (existing && existing.contact_id === o.contact_id) return { chat_id: o.chat_id, contact_id: o.contact_id, id: existing.id, request_id: requestIdOf(item, i) };
    if (existing) ctx.state.chatLinks.delete(existing.id);
    const link = { id: ctx.state.nextId('chatLink'), chat_id: o.chat_id, contact_id: o.contact_id };
    ctx.state.chatLinks.set(link.id, link);
    return { chat_id: link.chat_id, contact_id: link.contact_id, id: link.id, request_id: requestIdOf(item, i) };
  });
  return hal(200, { _total_items: chats.length, _embedded: { chats } });
}

/** `GET /api/v4/contacts/chats?contact_id=…&chat_id=…` (each may be a list); none → 204. */
function listChats(ctx: RestCtx) {
  const contactIds = queryList(ctx.query.contact_id).map(Number);
  const chatIds = queryList(ctx.query.chat_id);
  const chats = [...ctx.state.chatLinks.values()]
    .filter((l) => (contactIds.length === 0 || contactIds.includes(l.contact_id)) && (chatIds.length === 0 || chatIds.includes(l.chat_id)))
    .map((l) => ({ chat_id: l.chat_id, contact_id: l.contact_id, id: l.id }));
  if (chats.length === 0) return noContent();
  return hal(200, { _total_items: chats.length, _embedded: { chats } });
}
