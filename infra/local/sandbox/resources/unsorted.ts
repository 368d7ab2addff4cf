/**
 * Unsorted (amo-docs unsorted-api, "Неразобранное"): `GET /api/v4/leads/unsorted[/{uid}]`,
 * `POST /unsorted/forms|sip`, `POST /unsorted/{uid}/accept`, `DELETE /unsorted/{uid}/decline`,
 * `POST /unsorted/{uid}/link`, `GET /unsorted/summary`; plus what `leads/complex` takes from it
 * (`_embedded.metadata`, `_embedded.source`, leads-api "Комплексное добавление").
 *
 * An entry is a lead in its pipeline's type-1 ("unsorted") stage with at most one contact and one
 * company, hidden from the contact and company lists until the entry is sorted. Chats entries are
 * made by amojo (incoming-chats.ts), never through this API («Через API доступны для создания
 * только 2 типа неразобранного: формы и звонки»).
 */
import { createHash } from 'node:crypto';
import { badRequest, E, validationFailed, type FieldError, type RequestErrors } from '../errors.ts';
import type { OutEvent } from '../events.ts';
import { hal, isRecord, noContent, parseJson, problem, queryInts, queryList } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import type { Lead, Pipeline, Source, Status, UnsortedEntry } from '../state.ts';
import { Check, inRange, link, listPage, readBatch, requestIdOf } from './common.ts';
import { applyEntity, firstStage, LOST, validateEntity, WON, type EntityOp } from './entities.ts';
import { ownSources } from './sources.ts';

export function unsortedRoutes(): RestRoute[] {
  // `{key}`, not `{uid}`: the router reads names ending in "id" as digits, and uids are hex.
  return [
    { method: 'GET', template: '/api/v4/leads/unsorted', handler: list },
    { method: 'GET', template: '/api/v4/leads/unsorted/summary', handler: summary },
    { method: 'POST', template: '/api/v4/leads/unsorted/forms', handler: (ctx) => add(ctx, 'forms') },
    { method: 'POST', template: '/api/v4/leads/unsorted/sip', handler: (ctx) => add(ctx, 'sip') },
    { method: 'POST', template: '/api/v4/leads/unsorted/{key}/accept', handler: accept },
    { method: 'DELETE', template: '/api/v4/leads/unsorted/{key}/decline', handler: decline },
    { method: 'POST', template: '/api/v4/leads/unsorted/{key}/link', handler: linkTo },
    { method: 'GET', template: '/api/v4/leads/unsorted/{key}', handler: getOne },
  ];
}

// ---------------------------------------------------------------------------------------------
// Shared with leads/complex and amojo
// ---------------------------------------------------------------------------------------------

export function unsortedStage(p: Pipeline): Status | undefined {
  return p.statuses.find((s) => s.type === 1);
}

function newUid(ctx: RestCtx): string {
  // Hex like the documented uids; derived from a sequence so a seeded run repeats.
  return createHash('sha256')
    .update(`${ctx.state.account.id}:unsorted:${ctx.state.nextId('unsorted')}`)
    .digest('hex')
    .slice(0, 60);
}

/** Records an entry for a lead (and contact/company) already created in the unsorted stage. */
export function recordUnsorted(ctx: RestCtx, e: Omit<UnsortedEntry, 'uid' | 'status'>): UnsortedEntry {
  const entry: UnsortedEntry = { uid: newUid(ctx), status: 'pending', ...e };
  ctx.state.unsorted.set(entry.uid, entry);
  return entry;
}

type Category = 'sip' | 'forms';

/**
 * Metadata per category (unsorted-api "Описание объектов metadata"). The keys the docs list are
 * type-checked; which of them are required is *assumed* (forms: form_id, form_name, form_page,
 * form_sent_at; sip: uniq, phone, called_at, duration, service_code — the documented example's set).
 */
export function validateMetadata(
  category: Category,
  raw: unknown,
  errs: FieldError[],
  prefix: string,
): Record<string, unknown> | undefined {
  if (!isRecord(raw)) {
    errs.push(raw === undefined ? E.blank(`${prefix}metadata`.replace(/\.$/, '')) : E.type(`${prefix}metadata`, 'object'));
    return undefined;
  }
  const before = errs.length;
  const c = new Check(errs, `${prefix}metadata.`);
  const strOrInt = (k: string, required: boolean): void => {
    const v = raw[k];
    if (v === undefined || v === null) {
      if (required) errs.push(E.blank(c.p(k)));
    } else if (typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v))) errs.push(E.type(c.p(k), 'string'));
  };
  if (category === 'forms') {
    strOrInt('form_id', true);
    c.str(raw, 'form_name', { required: true });
    c.str(raw, 'form_page', { required: true });
    if (raw.form_sent_at === undefined) errs.push(E.blank(c.p('form_sent_at')));
    else c.int(raw, 'form_sent_at', { min: 0 });
    c.str(raw, 'ip');
    c.str(raw, 'referer');
  } else {
    c.str(raw, 'uniq', { required: true });
    strOrInt('phone', true);
    for (const k of ['called_at', 'duration']) {
      if (raw[k] === undefined) errs.push(E.blank(c.p(k)));
      else c.int(raw, k, { min: 0 });
    }
    c.str(raw, 'service_code', { required: true });
    c.str(raw, 'link');
    c.bool(raw, 'is_call_event_needed');
    c.str(raw, 'from');
  }
  if (errs.length !== before) return undefined;
  // «Данный флаг не возвращается в API, но может быть передан» (is_call_event_needed).
  const { is_call_event_needed: _flag, category: _cat, ...kept } = raw;
  return kept;
}

/** «В неразобранном не может оказаться 2 одинаковых сущности»: what makes two the same is *assumed*. */
function sameAs(
  category: Category,
  sourceUid: string | null,
  md: Record<string, unknown>,
): (u: { category: string; source_uid: string | null; metadata: Record<string, unknown> }) => boolean {
  return (u) =>
    u.category === category &&
    (category === 'sip'
      ? u.metadata.uniq === md.uniq
      : u.source_uid === sourceUid && String(u.metadata.form_id) === String(md.form_id) && u.metadata.form_sent_at === md.form_sent_at);
}

export interface ComplexExtras {
  metadata?: { category: Category; data: Record<string, unknown> };
  source?: Source;
}

/**
 * leads-api complex: `_embedded.metadata` («Если переданы метаданные, мы считаем, что это
 * неразобранное сделки и переданный статус, отличный от статус Неразобранное будет проигнорирован»;
 * category «Допустимые варианты – sip, forms») and `_embedded.source` (`external_id` of one of the
 * integration's sources; «Если передан external_id источника и не передан pipeline_id, сделка будет
 * добавлена в воронку, в которой находится источник»; type «поддерживается только widget»).
 * Adjusts the lead op's pipeline and stage.
 */
export function complexExtras(ctx: RestCtx, item: unknown, lead: EntityOp | undefined, errs: FieldError[]): ComplexExtras {
  const out: ComplexExtras = {};
  const emb = isRecord(item) && isRecord(item._embedded) ? item._embedded : undefined;
  if (!emb) return out;
  if (emb.source !== undefined) {
    const src = emb.source;
    if (!isRecord(src)) errs.push(E.type('_embedded.source', 'object'));
    else {
      if (src.type !== undefined && src.type !== 'widget') errs.push(E.choice('_embedded.source.type'));
      const ext = src.external_id;
      if (ext === undefined || ext === null || ext === '') errs.push(E.blank('_embedded.source.external_id'));
      else {
        // *assumed*: a source the integration does not own (or none) is NotFound, never silently dropped.
        const s = ownSources(ctx).find((x) => x.external_id === String(ext));
        if (!s) errs.push(E.notFound('_embedded.source.external_id'));
        else out.source = s;
      }
    }
  }
  if (emb.metadata !== undefined) {
    const md = emb.metadata;
    if (!isRecord(md)) errs.push(E.type('_embedded.metadata', 'object'));
    else if (md.category !== 'sip' && md.category !== 'forms') errs.push(E.choice('_embedded.metadata.category'));
    else {
      const data = validateMetadata(md.category, md, errs, '_embedded.');
      if (data) {
        if ([...ctx.state.unsorted.values()].some(sameAs(md.category, null, data)))
          errs.push(E.notUnique(md.category === 'sip' ? '_embedded.metadata.uniq' : '_embedded.metadata.form_id'));
        else out.metadata = { category: md.category, data };
      }
    }
  }
  if (!lead) return out;
  const pipelineGiven = isRecord(item) && item.pipeline_id !== undefined;
  if (out.source && !pipelineGiven) {
    const p = ctx.state.pipelines.get(out.source.pipeline_id);
    const stage = p ? firstStage(p) : undefined;
    if (p && stage) {
      lead.set.pipeline_id = p.id;
      lead.set.status_id = stage.id;
    }
  }
  if (out.metadata) {
    const p = ctx.state.pipelines.get(Number(lead.set.pipeline_id ?? ctx.state.mainPipeline()?.id));
    const stage = p ? unsortedStage(p) : undefined;
    // *assumed*: a pipeline with Unsorted switched off cannot take an unsorted lead.
    if (!p || !stage) errs.push(E.invalid('pipeline_id', 'Unsorted is off in this pipeline.'));
    else {
      lead.set.pipeline_id = p.id;
      lead.set.status_id = stage.id;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

function ref(ctx: RestCtx, kind: 'leads' | 'contacts' | 'companies', id: number | null): Array<Record<string, unknown>> {
  return id === null ? [] : [{ id, _links: link(ctx, `/api/v4/${kind}/${id}`) }];
}

function render(ctx: RestCtx, u: UnsortedEntry): Record<string, unknown> {
  return {
    uid: u.uid,
    source_uid: u.source_uid,
    source_name: u.source_name,
    category: u.category,
    pipeline_id: u.pipeline_id,
    created_at: u.created_at,
    metadata: u.metadata,
    account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/leads/unsorted/${u.uid}`),
    _embedded: {
      contacts: ref(ctx, 'contacts', u.contact_id),
      leads: ref(ctx, 'leads', u.lead_id),
      companies: ref(ctx, 'companies', u.company_id),
    },
  };
}

/** The accept/decline answer: «модель принятого неразобранного и сущности». */
function sortedView(ctx: RestCtx, u: UnsortedEntry, withCompanies: boolean): Record<string, unknown> {
  return {
    uid: u.uid,
    pipeline_id: u.pipeline_id,
    category: u.category,
    created_at: u.created_at,
    _embedded: {
      leads: ref(ctx, 'leads', u.lead_id),
      contacts: ref(ctx, 'contacts', u.contact_id),
      ...(withCompanies ? { companies: ref(ctx, 'companies', u.company_id) } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/**
 * `filter[uid]`, `filter[category][]`, `filter[pipeline_id]`, `order[created_at|updated_at]`, page/limit
 * (≤ 250). Only entries still in Unsorted are listed (*assumed*: sorted ones have left the inbox).
 */
function list(ctx: RestCtx) {
  const f = isRecord(ctx.query.filter) ? ctx.query.filter : {};
  const uids = queryList(f.uid);
  const cats = queryList(f.category);
  const pipelines = queryInts(f.pipeline_id);
  let items = [...ctx.state.unsorted.values()].filter(
    (u) =>
      u.status === 'pending' &&
      (uids.length === 0 || uids.includes(u.uid)) &&
      (cats.length === 0 || cats.includes(u.category)) &&
      (!pipelines || pipelines.includes(u.pipeline_id)),
  );
  const order = isRecord(ctx.query.order) ? Object.entries(ctx.query.order)[0] : undefined;
  // Entries are never updated here, so updated_at orders as created_at (*assumed*).
  if (order && (order[0] === 'created_at' || order[0] === 'updated_at') && order[1] === 'desc') items = [...items].reverse();
  return listPage(
    ctx,
    'unsorted',
    items.map((u) => render(ctx, u)),
  );
}

/** 204 for an unknown uid, like every GET by id (*assumed*; the page lists only 200 and 401). */
function getOne(ctx: RestCtx) {
  const u = ctx.state.unsorted.get(ctx.params.key ?? '');
  return u && u.status === 'pending' ? hal(200, render(ctx, u)) : noContent();
}

/**
 * `{total, accepted, declined, average_sort_time, categories: {sip, mail, forms, chats: {total}}}`
 * with `filter[uid]`, `filter[created_at]` (a timestamp: created or sorted since; or from/to),
 * `filter[pipeline_id]`. *assumed*: total counts every entry (the example's categories add up to it);
 * a link counts as accepted; average_sort_time over sorted entries, 0 when none.
 */
function summary(ctx: RestCtx) {
  const f = isRecord(ctx.query.filter) ? ctx.query.filter : {};
  const uids = queryList(f.uid);
  const pipelines = queryInts(f.pipeline_id);
  const ca = f.created_at;
  const items = [...ctx.state.unsorted.values()].filter(
    (u) =>
      (uids.length === 0 || uids.includes(u.uid)) &&
      (!pipelines || pipelines.includes(u.pipeline_id)) &&
      (ca === undefined || (isRecord(ca) ? inRange(u.created_at, ca) : u.created_at >= Number(ca) || (u.sorted_at ?? -1) >= Number(ca))),
  );
  const sorted = items.filter((u) => u.sorted_at !== undefined);
  const total = (cat: string): { total: number } => ({ total: items.filter((u) => u.category === cat).length });
  return hal(200, {
    total: items.length,
    accepted: items.filter((u) => u.status === 'accepted' || u.status === 'linked').length,
    declined: items.filter((u) => u.status === 'declined').length,
    average_sort_time: sorted.length
      ? Math.round(sorted.reduce((s, u) => s + ((u.sorted_at ?? u.created_at) - u.created_at), 0) / sorted.length)
      : 0,
    categories: { sip: total('sip'), mail: total('mail'), forms: total('forms'), chats: total('chats') },
  });
}

// ---------------------------------------------------------------------------------------------
// Add (forms, sip)
// ---------------------------------------------------------------------------------------------

interface AddOp {
  requestId: string;
  sourceUid: string;
  sourceName: string;
  pipeline: Pipeline;
  stage: Status;
  createdAt: number;
  metadata: Record<string, unknown>;
  lead: EntityOp;
  contact?: EntityOp;
  company?: EntityOp;
}

function one(
  ctx: RestCtx,
  emb: Record<string, unknown>,
  kind: 'leads' | 'contacts' | 'companies',
  index: number,
  errs: FieldError[],
): EntityOp | undefined {
  const list = emb[kind];
  if (list === undefined) return undefined;
  // «В данный момент в массиве всегда 1 объект»: more than one is refused (*assumed*).
  if (!Array.isArray(list) || list.length > 1) {
    errs.push(E.invalid(`_embedded.${kind}`, 'At most one entity.'));
    return undefined;
  }
  if (list.length === 0) return undefined;
  return validateEntity(ctx, kind, 'add', list[0], index, errs, { prefix: `_embedded.${kind}.0.`, embeddedLinks: false });
}

/**
 * forms: «Параметры source_name, source_uid и metadata являются обязательными»; sip: «Все поля,
 * кроме created_at, pipeline_id являются обязательными» (so `_embedded` too). The lead lands in the
 * Unsorted stage of `pipeline_id` (default: the main pipeline) whatever stage it names.
 */
function add(ctx: RestCtx, category: Category) {
  const body = readBatch(ctx);
  if (!body.ok) return body.res;
  const ops: AddOp[] = [];
  const failed: RequestErrors[] = [];
  const batch: Array<{ category: string; source_uid: string | null; metadata: Record<string, unknown> }> = [];
  body.value.forEach((item, i) => {
    const errs: FieldError[] = [];
    if (!isRecord(item)) {
      failed.push({ request_id: requestIdOf(item, i), errors: [E.type('item', 'object')] });
      return;
    }
    const c = new Check(errs);
    const sourceUid = c.str(item, 'source_uid', { required: true });
    const sourceName = c.str(item, 'source_name', { required: true });
    const createdAt = c.int(item, 'created_at', { min: 0 });
    const pid = c.int(item, 'pipeline_id');
    let pipeline =
      typeof pid === 'number' ? ctx.state.pipelines.get(pid) : item.pipeline_id === undefined ? ctx.state.mainPipeline() : undefined;
    if (typeof pid === 'number' && !pipeline) errs.push(E.choice('pipeline_id'));
    const stage = pipeline ? unsortedStage(pipeline) : undefined;
    if (pipeline && !stage) {
      errs.push(E.invalid('pipeline_id', 'Unsorted is off in this pipeline.')); // *assumed*
      pipeline = undefined;
    }
    const metadata = validateMetadata(category, item.metadata, errs, '');
    if (metadata && sourceUid !== undefined) {
      const same = sameAs(category, sourceUid, metadata);
      if ([...ctx.state.unsorted.values()].some(same) || batch.some(same))
        errs.push(E.notUnique(category === 'sip' ? 'metadata.uniq' : 'metadata.form_id'));
      else batch.push({ category, source_uid: sourceUid, metadata });
    }
    let emb: Record<string, unknown> = {};
    if (item._embedded === undefined) {
      if (category === 'sip') errs.push(E.blank('_embedded'));
    } else if (!isRecord(item._embedded)) errs.push(E.type('_embedded', 'object'));
    else emb = item._embedded;
    const lead =
      one(ctx, emb, 'leads', i, errs) ?? (emb.leads === undefined ? validateEntity(ctx, 'leads', 'add', {}, i, errs) : undefined);
    const contact = one(ctx, emb, 'contacts', i, errs);
    const company = one(ctx, emb, 'companies', i, errs);
    if (errs.length || !lead || !pipeline || !stage || !metadata || sourceUid === undefined || sourceName === undefined) {
      failed.push({ request_id: requestIdOf(item, i), errors: errs });
      return;
    }
    ops.push({
      requestId: requestIdOf(item, i),
      sourceUid,
      sourceName,
      pipeline,
      stage,
      createdAt: typeof createdAt === 'number' ? createdAt : ctx.now,
      metadata,
      lead,
      ...(contact ? { contact } : {}),
      ...(company ? { company } : {}),
    });
  });
  if (failed.length) return validationFailed(failed);
  const out = ops.map((op) => {
    const u = createUnsorted(ctx, {
      category,
      sourceUid: op.sourceUid,
      sourceName: op.sourceName,
      pipeline: op.pipeline,
      createdAt: op.createdAt,
      metadata: op.metadata,
      lead: op.lead,
      ...(op.contact ? { contact: op.contact } : {}),
      ...(op.company ? { company: op.company } : {}),
    });
    return {
      uid: u.uid,
      account_id: ctx.state.account.id,
      request_id: op.requestId,
      _links: link(ctx, `/api/v4/leads/unsorted/${u.uid}`),
      _embedded: {
        contacts: ref(ctx, 'contacts', u.contact_id),
        leads: ref(ctx, 'leads', u.lead_id),
        companies: ref(ctx, 'companies', u.company_id),
      },
    };
  });
  return hal(200, { _total_items: out.length, _embedded: { unsorted: out } });
}

/**
 * Creates the company, contact and lead of a new entry (the lead in the pipeline's Unsorted stage,
 * a new contact and company linked as complex add links them) and records it. Account webhooks are
 * not sent for Unsorted (`add_unsorted` is not simulated).
 */
export function createUnsorted(
  ctx: RestCtx,
  input: {
    category: UnsortedEntry['category'];
    sourceUid: string | null;
    sourceName: string;
    pipeline: Pipeline;
    createdAt: number;
    metadata: Record<string, unknown>;
    lead: EntityOp;
    contact?: EntityOp;
    company?: EntityOp;
    chatId?: string;
  },
): UnsortedEntry {
  const stage = unsortedStage(input.pipeline);
  if (!stage) throw new Error(`pipeline ${input.pipeline.id} has no Unsorted stage`);
  const companyId = input.company ? applyEntity(ctx, input.company).entity.id : null;
  if (input.contact && companyId !== null) input.contact.companyId = companyId;
  const contactId = input.contact ? applyEntity(ctx, input.contact).entity.id : null;
  input.lead.set.pipeline_id = input.pipeline.id;
  input.lead.set.status_id = stage.id;
  input.lead.contacts = contactId !== null ? [{ id: contactId, is_main: true }] : [];
  if (companyId !== null) input.lead.companyId = companyId;
  const lead = applyEntity(ctx, input.lead).entity;
  return recordUnsorted(ctx, {
    source_uid: input.sourceUid,
    source_name: input.sourceName,
    category: input.category,
    pipeline_id: input.pipeline.id,
    created_at: input.createdAt,
    metadata: input.metadata,
    lead_id: lead.id,
    contact_id: contactId,
    company_id: companyId,
    ...(input.chatId !== undefined ? { chat_id: input.chatId } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Accept, decline, link
// ---------------------------------------------------------------------------------------------

/** «404 Неразобранное с указанным UID не найдено»; a sorted entry is gone from Unsorted (*assumed*). */
function pending(ctx: RestCtx): UnsortedEntry | undefined {
  const u = ctx.state.unsorted.get(ctx.params.key ?? '');
  return u && u.status === 'pending' ? u : undefined;
}

function unsortedNotFound() {
  return problem(404, { title: 'Not Found', type: 'https://httpstatus.es/404', status: 404, detail: 'Unsorted not found' }); // body *assumed*
}

/** An optional JSON object body (accept/decline take one «дополнительно»). */
function optionalObject(ctx: RestCtx): { ok: true; value: Record<string, unknown> } | { ok: false; res: ReturnType<typeof badRequest> } {
  const parsed = parseJson(ctx.req.body);
  if (!parsed.ok) return { ok: false, res: badRequest('Request body is not valid JSON') };
  if (parsed.empty) return { ok: true, value: {} };
  if (!isRecord(parsed.value)) return { ok: false, res: badRequest('Request data must be an object') };
  return { ok: true, value: parsed.value };
}

function actingUser(ctx: RestCtx, body: Record<string, unknown>, errs: FieldError[]): number {
  const c = new Check(errs);
  const uid = c.int(body, 'user_id');
  if (typeof uid === 'number' && !ctx.state.users.has(uid)) errs.push(E.choice('user_id'));
  return typeof uid === 'number' ? uid : ctx.userId;
}

/**
 * `{user_id?, status_id?}`: the lead leaves Unsorted for `status_id` (a regular stage of the same
 * pipeline; 142/143 and the Unsorted stage itself refused, *assumed*) or the pipeline's first stage;
 * the contact and company show up in their lists. The stage change fires `status_lead`/`update_lead`.
 */
function accept(ctx: RestCtx) {
  const u = pending(ctx);
  if (!u) return unsortedNotFound();
  const body = optionalObject(ctx);
  if (!body.ok) return body.res;
  const errs: FieldError[] = [];
  const user = actingUser(ctx, body.value, errs);
  const pipeline = ctx.state.pipelines.get(u.pipeline_id);
  const sid = new Check(errs).int(body.value, 'status_id');
  let stage = pipeline ? firstStage(pipeline) : undefined;
  if (typeof sid === 'number') {
    stage = pipeline?.statuses.find((s) => s.id === sid && s.type === 0 && s.id !== WON && s.id !== LOST);
    if (!stage) errs.push(E.choice('status_id'));
  }
  if (errs.length || !stage) return validationFailed([{ request_id: '0', errors: errs }]);
  const op: EntityOp = {
    kind: 'leads',
    requestId: '0',
    id: u.lead_id,
    set: { status_id: stage.id, pipeline_id: u.pipeline_id },
    cf: [],
    tags: { add: [], del: [] },
  };
  const events: OutEvent[] = ctx.state.leads.has(u.lead_id) ? applyEntity(ctx, op, user).events : [];
  u.status = 'accepted';
  u.sorted_at = ctx.now;
  void ctx.hooks.emit(events);
  return hal(200, sortedView(ctx, u, true));
}

/**
 * `{user_id?}`: «сущности, которые были перенесены в корзину» — the lead, contact and company of
 * the entry are deleted (the sandbox has no trash: they are gone), and a chats entry's chat link too.
 */
function decline(ctx: RestCtx) {
  const u = pending(ctx);
  if (!u) return unsortedNotFound();
  const body = optionalObject(ctx);
  if (!body.ok) return body.res;
  const errs: FieldError[] = [];
  actingUser(ctx, body.value, errs);
  if (errs.length) return validationFailed([{ request_id: '0', errors: errs }]);
  ctx.state.leads.delete(u.lead_id);
  if (u.contact_id !== null && !u.existing?.contact) {
    ctx.state.contacts.delete(u.contact_id);
    for (const [id, l] of ctx.state.chatLinks) if (l.contact_id === u.contact_id) ctx.state.chatLinks.delete(id);
  }
  if (u.company_id !== null && !u.existing?.company) ctx.state.companies.delete(u.company_id);
  u.status = 'declined';
  u.sorted_at = ctx.now;
  return hal(200, sortedView(ctx, u, false));
}

/**
 * `{user_id?, link: {entity_id, entity_type: leads|customers, metadata?: {contact_id?}}}`, chats
 * (and mail) only: «Метод доступен только для неразобранного типа чат»; other categories → 400
 * titled "Only chats and mail" (amocrm-api-php issue #312, detail *assumed*). Customers are not
 * simulated (`NotSupportedChoice`). The entry's lead is dropped; the chat goes to
 * `metadata.contact_id` when given (the entry's contact is dropped), else the entry's contact joins
 * the target lead (*assumed*).
 */
function linkTo(ctx: RestCtx) {
  const u = pending(ctx);
  if (!u) return unsortedNotFound();
  if (u.category !== 'chats' && u.category !== 'mail') {
    return problem(400, { title: 'Only chats and mail', type: 'https://httpstatus.es/400', status: 400, detail: 'Invalid request data' });
  }
  const parsed = parseJson(ctx.req.body);
  if (!parsed.ok) return badRequest('Request body is not valid JSON');
  const body = isRecord(parsed.value) ? parsed.value : {};
  const errs: FieldError[] = [];
  actingUser(ctx, body, errs);
  const l = body.link;
  let target: Lead | undefined;
  let contactId: number | undefined;
  if (!isRecord(l)) errs.push(E.blank('link'));
  else {
    const c = new Check(errs, 'link.');
    if (l.entity_type !== 'leads') errs.push(l.entity_type === undefined ? E.blank('link.entity_type') : E.choice('link.entity_type'));
    const id = c.int(l, 'entity_id');
    if (l.entity_id === undefined) errs.push(E.blank('link.entity_id'));
    else if (typeof id === 'number') {
      target = ctx.state.leads.get(id);
      if (!target || id === u.lead_id) errs.push(E.notFound('link.entity_id'));
    }
    if (l.metadata !== undefined) {
      if (!isRecord(l.metadata)) errs.push(E.type('link.metadata', 'object'));
      else {
        const cid = new Check(errs, 'link.metadata.').int(l.metadata, 'contact_id');
        if (typeof cid === 'number') {
          if (!ctx.state.contacts.has(cid) || ctx.state.inUnsorted('contacts', cid)) errs.push(E.notFound('link.metadata.contact_id'));
          else contactId = cid;
        }
      }
    }
  }
  if (errs.length || !target) return validationFailed([{ request_id: '0', errors: errs }]);
  ctx.state.leads.delete(u.lead_id);
  const keep = contactId ?? u.contact_id;
  if (contactId !== undefined && u.contact_id !== null && contactId !== u.contact_id) {
    for (const cl of ctx.state.chatLinks.values()) if (cl.contact_id === u.contact_id) cl.contact_id = contactId;
    if (!u.existing?.contact) ctx.state.contacts.delete(u.contact_id);
  }
  if (keep !== null && !target.contacts.some((c) => c.id === keep))
    target.contacts.push({ id: keep, is_main: target.contacts.length === 0 });
  u.status = 'linked';
  u.sorted_at = ctx.now;
  return hal(200, { uid: u.uid, _embedded: { leads: ref(ctx, 'leads', target.id) } });
}
