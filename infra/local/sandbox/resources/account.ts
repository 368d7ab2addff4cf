/** `GET /api/v4/account` (docs/amocrm-protocol.md#account) and `GET /api/v4/users[/{id}]` (amoCRM users-api). */
import { hal, noContent } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import type { User } from '../state.ts';
import { link, listPage } from './common.ts';

/**
 * amo-docs account-info `with=entity_names`: "названия сущностей с их переводами и формами чисел",
 * the shape of the doc's example (leads; per language `gender`, `singular_form`, `plural_form`, the
 * Russian forms by case). The words are amoCRM's defaults for an account that renamed nothing (*assumed*).
 */
const ENTITY_NAMES = {
  leads: {
    ru: {
      gender: 'f',
      plural_form: {
        dative: 'сделкам',
        default: 'сделки',
        genitive: 'сделок',
        accusative: 'сделки',
        instrumental: 'сделками',
        prepositional: 'сделках',
      },
      singular_form: {
        dative: 'сделке',
        default: 'сделка',
        genitive: 'сделки',
        accusative: 'сделку',
        instrumental: 'сделкой',
        prepositional: 'сделке',
      },
    },
    en: { singular_form: { default: 'lead' }, plural_form: { default: 'leads' }, gender: 'f' },
    es: { singular_form: { default: 'acuerdo' }, plural_form: { default: 'acuerdos' }, gender: 'm' },
  },
};

export function accountRoutes(): RestRoute[] {
  return [
    { method: 'GET', template: '/api/v4/account', handler: account },
    {
      method: 'GET',
      template: '/api/v4/users',
      handler: (ctx) =>
        listPage(
          ctx,
          'users',
          [...ctx.state.users.values()].map((u) => renderUser(ctx, u)),
          { total: true },
        ),
    },
    {
      method: 'GET',
      template: '/api/v4/users/{id}',
      handler: (ctx) => {
        const u = ctx.state.users.get(Number(ctx.params.id));
        return u ? hal(200, renderUser(ctx, u)) : noContent();
      },
    },
  ];
}

/**
 * docs/amocrm-protocol.md#account: base fields always; `amojo_id` only when `with` asks for it; `task_types`,
 * `users_groups`, `amojo_rights`, `version`, `datetime_settings` on request too.
 */
function account(ctx: RestCtx) {
  const a = ctx.state.account;
  const w = typeof ctx.query.with === 'string' ? ctx.query.with.split(',').map((s) => s.trim()) : [];
  const body: Record<string, unknown> = {
    id: a.id,
    name: a.name,
    subdomain: a.subdomain,
    created_at: 1_600_000_000,
    created_by: 0,
    updated_at: 1_600_000_000,
    updated_by: 0,
    current_user_id: ctx.userId,
    country: 'RU',
    currency: 'RUB',
    currency_symbol: '₽',
    customers_mode: 'disabled',
    is_unsorted_on: true,
    mobile_feature_version: 0,
    is_loss_reason_enabled: true,
    is_helpbot_enabled: false,
    is_technical_account: false,
    contact_name_display_order: 1,
  };
  if (w.includes('amojo_id')) body.amojo_id = a.amojoId;
  if (w.includes('uuid')) body.uuid = a.amojoId;
  if (w.includes('version')) body.version = 11;
  if (w.includes('entity_names')) body.entity_names = ENTITY_NAMES;
  body._links = link(ctx, '/api/v4/account');
  const emb: Record<string, unknown> = {};
  if (w.includes('amojo_rights')) emb.amojo_rights = { can_direct: true, can_create_groups: true };
  if (w.includes('users_groups')) {
    const groups = new Map<number, string>([[0, 'Отдел продаж']]);
    for (const u of ctx.state.users.values()) if (!groups.has(u.group_id)) groups.set(u.group_id, `Группа ${u.group_id}`);
    emb.users_groups = [...groups].map(([id, name]) => ({ id, name, uuid: null }));
  }
  if (w.includes('task_types')) {
    emb.task_types = [...ctx.state.taskTypes.values()].map((t) => ({ id: t.id, name: t.name, color: null, icon_id: null, code: t.code }));
  }
  if (w.includes('datetime_settings')) {
    emb.datetime_settings = {
      date_pattern: 'd.m.Y H:i',
      short_date_pattern: 'd.m.Y',
      short_time_pattern: 'H:i',
      date_format: 'd.m.Y',
      time_format: 'H:i:s',
      timezone: 'UTC',
      timezone_offset: '+00:00',
    };
  }
  if (Object.keys(emb).length) body._embedded = emb;
  return hal(200, body);
}

/** A stable amojo id per user (docs/amocrm-protocol.md#account: `GET /api/v4/users?with=amojo_id`). */
export function userAmojoId(u: User): string {
  const hex = u.id.toString(16).padStart(12, '0').slice(-12);
  return `a0a0a0a0-0000-4000-8000-${hex}`;
}

function renderUser(ctx: RestCtx, u: User): Record<string, unknown> {
  const w = typeof ctx.query.with === 'string' ? ctx.query.with.split(',') : [];
  return {
    id: u.id,
    name: u.name,
    email: u.email,
    lang: u.lang,
    ...(w.includes('amojo_id') ? { amojo_id: userAmojoId(u) } : {}),
    rights: {
      leads: { view: 'A', edit: 'A', add: 'A', delete: 'A', export: 'A' },
      contacts: { view: 'A', edit: 'A', add: 'A', delete: 'A', export: 'A' },
      companies: { view: 'A', edit: 'A', add: 'A', delete: 'A', export: 'A' },
      tasks: { edit: 'A', delete: 'A' },
      mail_access: false,
      catalog_access: true,
      is_admin: u.is_admin,
      is_free: false,
      is_active: true,
      group_id: u.group_id || null,
      role_id: null,
      status_rights: [],
    },
    _links: link(ctx, `/api/v4/users/${u.id}`),
  };
}
