/**
 * Tags: `GET|POST /api/v4/{entity}/tags` (amoCRM tags-api) and the tag parts of entity writes
 * (leads-api: `tags_to_add`, `tags_to_delete`, `_embedded[tags]`, where `_embedded: {tags: null}`
 * removes all tags — the PATCH example "а также удалим теги").
 */
import { E, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import { hal, isRecord, queryInts, queryString } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import type { AccountState, EntityKind, Tag } from '../state.ts';
import { listPage, link, readBatch, requestIdOf } from './common.ts';

type TagRef = { id: number } | { name: string };

export interface TagOps {
  /** `_embedded.tags`: replace the set (null = clear). */
  set?: TagRef[] | null;
  add: TagRef[];
  del: TagRef[];
}

function refs(v: unknown, path: string, errs: FieldError[], state: AccountState, kind: EntityKind, mustExist: boolean): TagRef[] {
  if (!Array.isArray(v)) {
    errs.push(E.type(path, 'array'));
    return [];
  }
  const out: TagRef[] = [];
  v.forEach((t, i) => {
    if (isRecord(t) && typeof t.id === 'number') {
      if (mustExist && !state.tags[kind].has(t.id)) errs.push(E.notFound(`${path}.${i}.id`));
      else out.push({ id: t.id });
    } else if (isRecord(t) && typeof t.name === 'string' && t.name.trim() !== '') out.push({ name: t.name.trim() });
    else errs.push(E.blank(`${path}.${i}`)); // leads-api: "Необходимо указать id или name"
  });
  return out;
}

export function parseTagOps(state: AccountState, kind: EntityKind, item: Record<string, unknown>, errs: FieldError[], prefix = ''): TagOps {
  const ops: TagOps = { add: [], del: [] };
  const emb = item._embedded;
  if (isRecord(emb) && 'tags' in emb) {
    ops.set = emb.tags === null ? null : refs(emb.tags, `${prefix}_embedded.tags`, errs, state, kind, true);
  }
  if (item.tags_to_add !== undefined) ops.add = refs(item.tags_to_add, `${prefix}tags_to_add`, errs, state, kind, true);
  if (item.tags_to_delete !== undefined) ops.del = refs(item.tags_to_delete, `${prefix}tags_to_delete`, errs, state, kind, false);
  return ops;
}

function resolve(state: AccountState, kind: EntityKind, ref: TagRef, create: boolean): number | undefined {
  if ('id' in ref) return ref.id;
  const found = [...state.tags[kind].values()].find((t) => t.name.toLowerCase() === ref.name.toLowerCase());
  if (found || !create) return found?.id;
  const tag: Tag = { id: state.nextId('tag'), name: ref.name, color: null };
  state.tags[kind].set(tag.id, tag);
  return tag.id;
}

export function applyTagOps(state: AccountState, kind: EntityKind, current: number[], ops: TagOps): number[] {
  let ids =
    ops.set === undefined
      ? [...current]
      : ops.set === null
        ? []
        : ops.set.map((r) => resolve(state, kind, r, true)).filter((x): x is number => x !== undefined);
  for (const r of ops.add) {
    const id = resolve(state, kind, r, true);
    if (id !== undefined && !ids.includes(id)) ids.push(id);
  }
  for (const r of ops.del) {
    const id = resolve(state, kind, r, false);
    if (id !== undefined) ids = ids.filter((x) => x !== id);
  }
  return ids;
}

export function renderTags(state: AccountState, kind: EntityKind, ids: number[]): Array<Record<string, unknown>> {
  return ids
    .map((id) => state.tags[kind].get(id))
    .filter((t): t is Tag => !!t)
    .map((t) => ({ id: t.id, name: t.name, color: kind === 'leads' ? t.color : null }));
}

export function tagRoutes(): RestRoute[] {
  return [
    {
      method: 'GET',
      template: '/api/v4/{entity}/tags',
      handler: (ctx) => {
        const kind = ctx.params.entity as EntityKind;
        const ids = queryInts(isRecord(ctx.query.filter) ? ctx.query.filter.id : undefined);
        const name = isRecord(ctx.query.filter) ? queryString(ctx.query.filter.name) : undefined;
        const q = queryString(ctx.query.query)?.toLowerCase();
        const items = [...ctx.state.tags[kind].values()]
          .filter((t) => (!ids || ids.includes(t.id)) && (!name || t.name === name) && (!q || t.name.toLowerCase().includes(q)))
          .map((t) => ({ id: t.id, name: t.name, color: t.color }));
        return listPage(ctx, 'tags', items);
      },
    },
    {
      method: 'POST',
      template: '/api/v4/{entity}/tags',
      handler: (ctx) => addTags(ctx, ctx.params.entity as EntityKind),
    },
  ];
}

/** tags-api add: `[{name, color?, request_id?}]`; a name already used → NotUnique (*assumed*). */
function addTags(ctx: RestCtx, kind: EntityKind) {
  const body = readBatch(ctx);
  if (!body.ok) return body.res;
  const failed: RequestErrors[] = [];
  const seen = new Set<string>();
  body.value.forEach((item, i) => {
    const errs: FieldError[] = [];
    if (!isRecord(item) || typeof item.name !== 'string' || item.name.trim() === '') errs.push(E.blank('name'));
    else {
      const n = item.name.trim().toLowerCase();
      if (seen.has(n) || [...ctx.state.tags[kind].values()].some((t) => t.name.toLowerCase() === n)) errs.push(E.notUnique('name'));
      seen.add(n);
      if (item.color !== undefined && item.color !== null && (typeof item.color !== 'string' || !/^[0-9A-Fa-f]{6}$/.test(item.color)))
        errs.push(E.invalid('color', 'Color must be 6 hex digits.'));
    }
    if (errs.length) failed.push({ request_id: requestIdOf(item, i), errors: errs });
  });
  if (failed.length) return validationFailed(failed);
  const out = body.value.map((item, i) => {
    const o = item as Record<string, unknown>;
    const tag: Tag = {
      id: ctx.state.nextId('tag'),
      name: String(o.name).trim(),
      color: kind === 'leads' && typeof o.color === 'string' ? o.color : null,
    };
    ctx.state.tags[kind].set(tag.id, tag);
    return { id: tag.id, name: tag.name, color: tag.color, request_id: requestIdOf(item, i) };
  });
  return hal(200, { _links: link(ctx, ctx.req.path), _embedded: { tags: out } });
}
