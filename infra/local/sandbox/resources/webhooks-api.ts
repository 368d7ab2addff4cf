/**
 * Webhook subscriptions (docs/amocrm-protocol.md#subscriptions; amoCRM webhooks-api): `GET /api/v4/webhooks
 * [?filter[destination]=…]`, `POST` `{destination, settings, sort?}` (201; an existing destination is
 * updated: «Если в аккаунте уже есть вебхук с переданным адресом, то он будет обновлен»), `DELETE`
 * `{destination}` (204, 404 when unknown). At most 100 per account (docs/amocrm-protocol.md#entity-limits).
 * Saving a destination again re-enables it (docs/amocrm-protocol.md#subscriptions).
 */
import { E, validationFailed, type FieldError } from '../errors.ts';
import { hal, isRecord, noContent, problem, queryString } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import type { WebhookSub } from '../state.ts';
import { collection, readObject } from './common.ts';

export const MAX_WEBHOOKS = 100;

/** webhooks-api "Возможные события" table; the last six are from a third-party map, accepted too (*assumed*). */
export const WEBHOOK_SETTINGS = new Set([
  'responsible_lead',
  'responsible_contact',
  'responsible_company',
  'responsible_customer',
  'responsible_task',
  'restore_lead',
  'restore_contact',
  'restore_company',
  'add_lead',
  'add_contact',
  'add_company',
  'add_customer',
  'add_talk',
  'add_task',
  'update_lead',
  'update_contact',
  'update_company',
  'update_customer',
  'update_talk',
  'update_task',
  'delete_lead',
  'delete_contact',
  'delete_company',
  'delete_customer',
  'delete_task',
  'status_lead',
  'note_lead',
  'note_contact',
  'note_company',
  'note_customer',
  'add_chat_template_review',
  'add_message',
  'add_outgoing_message',
  'delete_talk',
  'add_unsorted',
  'update_unsorted',
  'delete_unsorted',
]);

export function renderWebhook(ctx: RestCtx, w: WebhookSub): Record<string, unknown> {
  return {
    id: w.id,
    destination: w.destination,
    created_at: w.created_at,
    updated_at: w.updated_at,
    account_id: ctx.state.account.id,
    created_by: w.created_by,
    sort: w.sort,
    disabled: ctx.hooks.deliverer.isDisabled(w.destination),
    settings: [...w.settings],
  };
}

function validUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

export function webhookRoutes(): RestRoute[] {
  return [
    {
      method: 'GET',
      template: '/api/v4/webhooks',
      handler: (ctx) => {
        const dest = isRecord(ctx.query.filter) ? queryString(ctx.query.filter.destination) : undefined;
        const items = [...ctx.state.webhooks.values()].filter((w) => !dest || w.destination === dest).map((w) => renderWebhook(ctx, w));
        return collection(ctx, 'webhooks', items);
      },
    },
    {
      method: 'POST',
      template: '/api/v4/webhooks',
      handler: (ctx) => {
        const body = readObject(ctx);
        if (!body.ok) return body.res;
        const b = body.value;
        const errs: FieldError[] = [];
        if (typeof b.destination !== 'string' || !validUrl(b.destination))
          errs.push(b.destination === undefined ? E.blank('destination') : E.invalid('destination', 'This value is not a valid URL.'));
        if (!Array.isArray(b.settings) || b.settings.length === 0) errs.push(E.blank('settings'));
        else
          b.settings.forEach((s, i) => {
            if (typeof s !== 'string' || !WEBHOOK_SETTINGS.has(s)) errs.push(E.choice(`settings.${i}`));
          });
        if (b.sort !== undefined && (typeof b.sort !== 'number' || !Number.isInteger(b.sort))) errs.push(E.type('sort', 'int'));
        const existing =
          typeof b.destination === 'string' ? [...ctx.state.webhooks.values()].find((w) => w.destination === b.destination) : undefined;
        if (!existing && ctx.state.webhooks.size >= MAX_WEBHOOKS)
          errs.push(E.invalid('destination', `An account has at most ${MAX_WEBHOOKS} webhooks.`));
        if (errs.length) return validationFailed([{ request_id: '0', errors: errs }]);
        const settings = [...new Set(b.settings as string[])];
        const sort = typeof b.sort === 'number' ? b.sort : 1;
        let w: WebhookSub;
        if (existing) {
          w = existing;
          w.settings = settings;
          w.sort = sort;
          w.updated_at = ctx.now;
        } else {
          w = {
            id: ctx.state.nextId('webhook'),
            destination: b.destination as string,
            settings,
            sort,
            created_at: ctx.now,
            updated_at: ctx.now,
            created_by: ctx.userId,
          };
          ctx.state.webhooks.set(w.id, w);
        }
        ctx.hooks.deliverer.enable(w.destination);
        return hal(201, renderWebhook(ctx, w));
      },
    },
    {
      method: 'DELETE',
      template: '/api/v4/webhooks',
      handler: (ctx) => {
        const body = readObject(ctx);
        if (!body.ok) return body.res;
        if (typeof body.value.destination !== 'string') return validationFailed([{ request_id: '0', errors: [E.blank('destination')] }]);
        const w = [...ctx.state.webhooks.values()].find((x) => x.destination === body.value.destination);
        if (!w) return problem(404, { title: 'Not Found', type: 'https://httpstatus.es/404', status: 404, detail: 'Webhook not found' });
        ctx.state.webhooks.delete(w.id);
        return noContent();
      },
    },
  ];
}
