/**
 * Lead sources (amo-docs sources-api): `GET /api/v4/sources[/{id}]`, `POST /api/v4/sources`. An
 * integration sees and manages only its own sources («интеграция может управлять только своими
 * источниками»); `external_id` is unique per integration. A source names the pipeline where its
 * Unsorted entries and `leads/complex` leads with `_embedded.source` land.
 */
import { E, limitPerPage, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import { hal, noContent, queryList } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import type { Source } from '../state.ts';
import { Check, collection, link, readBatch, requestIdOf } from './common.ts';

/** sources-api: «Добавить одновременно можно не более 50 источников». */
const ADD_MAX = 50;
/** sources-api: «Одна интеграция может создать не более 100 активных источников». */
const PER_INTEGRATION = 100;

export function sourceRoutes(): RestRoute[] {
  return [
    { method: 'GET', template: '/api/v4/sources', handler: list },
    { method: 'POST', template: '/api/v4/sources', handler: add },
    { method: 'GET', template: '/api/v4/sources/{id}', handler: getOne },
  ];
}

export function ownSources(ctx: RestCtx): Source[] {
  return [...ctx.state.sources.values()].filter((s) => s.client_id === ctx.clientId);
}

function render(ctx: RestCtx, s: Source): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    pipeline_id: s.pipeline_id,
    external_id: s.external_id,
    default: s.default,
    origin_code: s.origin_code,
    services: [],
    _links: link(ctx, `/api/v4/sources/${s.id}`),
  };
}

function list(ctx: RestCtx) {
  const f = ctx.query.filter;
  const ext = f && typeof f === 'object' && !Array.isArray(f) ? queryList((f as Record<string, unknown>).external_id) : [];
  return collection(
    ctx,
    'sources',
    ownSources(ctx)
      .filter((s) => ext.length === 0 || ext.includes(s.external_id))
      .map((s) => render(ctx, s)),
  );
}

function getOne(ctx: RestCtx) {
  const s = ctx.state.sources.get(Number(ctx.params.id));
  // «204 У интеграции нет подконтрольных источников или источник удален»: another integration's source too.
  return s && s.client_id === ctx.clientId ? hal(200, render(ctx, s)) : noContent();
}

function add(ctx: RestCtx) {
  const body = readBatch(ctx, Math.max(ctx.maxEntities, ADD_MAX + 1));
  if (!body.ok) return body.res;
  if (body.value.length > ADD_MAX) return limitPerPage(ADD_MAX); // *assumed*: the 422 of the other limits
  const own = ownSources(ctx);
  const seen = new Set(own.map((s) => s.external_id));
  const failed: RequestErrors[] = [];
  const ok: Array<Omit<Source, 'id'> & { requestId: string }> = [];
  body.value.forEach((item, i) => {
    const errs: FieldError[] = [];
    const c = new Check(errs);
    const raw = item && typeof item === 'object' && !Array.isArray(item) ? (item as Record<string, unknown>) : undefined;
    if (!raw) errs.push(E.type('item', 'object'));
    else {
      const name = c.str(raw, 'name', { required: true });
      const ext = c.str(raw, 'external_id', { required: true });
      // «Длина поля 36 символов, можно использовать любые печатные ascii символы и пробел».
      if (ext !== undefined && (ext.length > 36 || !/^[\x20-\x7e]+$/.test(ext)))
        errs.push(E.invalid('external_id', 'At most 36 printable ASCII characters.'));
      else if (ext !== undefined && seen.has(ext)) errs.push(E.notUnique('external_id')); // «двух источников с одинаковым кодом быть не может»
      const pid = c.int(raw, 'pipeline_id');
      if (typeof pid === 'number' && !ctx.state.pipelines.has(pid)) errs.push(E.choice('pipeline_id'));
      const dflt = c.bool(raw, 'default');
      const origin = c.str(raw, 'origin_code');
      const pipeline = typeof pid === 'number' ? pid : ctx.state.mainPipeline()?.id;
      if (errs.length === 0 && name !== undefined && ext !== undefined && pipeline !== undefined) {
        seen.add(ext);
        ok.push({
          requestId: requestIdOf(raw, i),
          client_id: ctx.clientId,
          name,
          external_id: ext,
          pipeline_id: pipeline,
          default: dflt ?? false,
          origin_code: origin ?? null,
        });
      }
    }
    if (errs.length) failed.push({ request_id: requestIdOf(item, i), errors: errs });
  });
  if (failed.length) return validationFailed(failed);
  // *assumed*: the 101st source of an integration is refused like a validation error on the batch.
  if (own.length + ok.length > PER_INTEGRATION)
    return validationFailed([
      { request_id: '0', errors: [E.invalid('external_id', `At most ${PER_INTEGRATION} sources per integration.`)] },
    ]);
  const out = ok.map(({ requestId, ...s }) => {
    const src: Source = { id: ctx.state.nextId('source'), ...s };
    ctx.state.sources.set(src.id, src);
    return { ...render(ctx, src), request_id: requestId };
  });
  return hal(200, { _total_items: out.length, _embedded: { sources: out } });
}
