/**
 * The sandbox's admin API: the same operations in-process (`sandbox.admin.*`) and over HTTP under
 * `/_sandbox/…` (JSON). It is how tests and demos set the world up and look at it; it is not part
 * of amoCRM and is never limited, faulted or blocked.
 */
import { recordUpdated, snapshot } from './account-events.ts';
import type { Core } from './core.ts';
import { adminCtx } from './core.ts';
import type { CounterRow } from './counters.ts';
import type { EmittedRecord } from './events.ts';
import type { FaultRule } from './faults.ts';
import { isRecord, json, parseJson } from './http-util.ts';
import type { LimitOptions } from './limiter.ts';
import type { IntegrationConfig, TokenCall } from './oauth.ts';
import { renderEntity, renderLead } from './resources/entities.ts';
import { applySeed, SeedError, type SeedResult, type SeedSpec } from './seed.ts';
import type { EntityKind, Lead } from './state.ts';
import { ENTITY_KINDS } from './state.ts';
import type { SbRequest, SbResponse } from './types.ts';
import type { DeliveryRecord, PendingRetry } from './webhook-out.ts';
import type { SearchMode } from './router.ts';

const SEARCH_MODES: readonly SearchMode[] = ['normalising', 'literal', 'noisy'];
import { leadDeleteItem, leadItem } from './webhook-items.ts';
import { renderTask } from './resources/tasks.ts';

export interface CountersView {
  requests: CounterRow[];
  /** Token endpoint calls by `grant:outcome`, e.g. `refresh_token:ok`. */
  tokenEndpoint: Record<string, number>;
  /** Answers with 429. */
  rateLimited: number;
  /** Answers with the 403 block page. */
  blockedResponses: number;
  /** How many times the account got blocked. */
  blocksImposed: number;
}

export class AdminError extends Error {
  constructor(
    message: string,
    readonly status = 400,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export class SandboxAdmin {
  constructor(private readonly core: Core) {}

  /** Seeds the account in one call (see seed.ts for the rules). */
  seed(spec: SeedSpec): SeedResult {
    return applySeed(adminCtx(this.core), spec);
  }

  /** A summary of the account: dictionaries and entity counts. */
  state(): Record<string, unknown> {
    const s = this.core.state;
    return {
      url: this.core.url(),
      account: s.account,
      currentUserId: s.currentUserId(),
      users: [...s.users.values()],
      pipelines: [...s.pipelines.values()],
      customFields: {
        ...Object.fromEntries(ENTITY_KINDS.map((k) => [k, s.fieldsOf(k)])),
        catalogs: [...s.fields.values()].filter((f) => f.entity_type === 'catalogs'),
      },
      taskTypes: [...s.taskTypes.values()],
      integrations: this.core.oauth
        .integrationIds()
        .map((id) => ({ clientId: id, installed: this.core.oauth.integration(id)?.installed ?? false })),
      counts: {
        leads: s.leads.size,
        contacts: s.contacts.size,
        companies: s.companies.size,
        tasks: s.tasks.size,
        notes: s.notes.size,
        catalogs: s.catalogs.size,
        elements: s.elements.size,
        webhooks: s.webhooks.size,
        chatLinks: s.chatLinks.size,
      },
      block: this.core.limiter.block,
    };
  }

  /** Entities in their REST read shape (leads with contacts, contacts with leads). */
  entities(kind: EntityKind | 'tasks'): Array<Record<string, unknown>> {
    const ctx = adminCtx(this.core, { with: 'contacts,leads' });
    if (kind === 'tasks') return [...this.core.state.tasks.values()].map((t) => renderTask(ctx, t));
    return [...this.core.state.entityMap(kind).values()].map((e) => renderEntity(ctx, kind, e));
  }

  lead(id: number): Record<string, unknown> | undefined {
    const l = this.core.state.leads.get(id);
    return l ? renderLead(adminCtx(this.core, { with: 'contacts' }), l) : undefined;
  }

  chatLinks(): Array<{ id: number; chat_id: string; contact_id: number }> {
    return [...this.core.state.chatLinks.values()].map((l) => ({ ...l }));
  }

  webhookSubscriptions(): Array<Record<string, unknown>> {
    return [...this.core.state.webhooks.values()].map((w) => ({ ...w, disabled: this.core.deliverer.isDisabled(w.destination) }));
  }

  /** Token records (fingerprints only). */
  tokens(): Array<Record<string, unknown>> {
    return this.core.oauth.tokenRecords();
  }

  tokenCalls(): TokenCall[] {
    return this.core.oauth.tokenCalls();
  }

  /**
   * Token endpoint calls matching a grant and/or outcomes, e.g.
   * `tokenEndpointCount({grant: 'refresh_token', outcome: ['ok', 'ok_grace']})` for "exactly one refresh".
   */
  tokenEndpointCount(f: { grant?: TokenCall['grant']; outcome?: TokenCall['outcome'] | Array<TokenCall['outcome']> } = {}): number {
    const outcomes = f.outcome === undefined ? undefined : [f.outcome].flat();
    return this.core.oauth.tokenCalls().filter((c) => (!f.grant || c.grant === f.grant) && (!outcomes || outcomes.includes(c.outcome)))
      .length;
  }

  counters(): CountersView {
    const c = this.core.counters;
    return {
      requests: c.list(),
      tokenEndpoint: this.core.oauth.tokenCounts(),
      rateLimited: c.count({ status: 429 }),
      blockedResponses: c.count({ status: 403 }),
      blocksImposed: this.core.limiter.blocksImposed,
    };
  }

  /** Sum of matching request counters, e.g. `count({route: '/api/v4/leads', method: 'PATCH'})`. */
  count(f: { method?: string; route?: string; status?: CounterRow['status'] } = {}): number {
    return this.core.counters.count(f);
  }

  limits(): Record<string, unknown> {
    return this.core.limiter.snapshot();
  }

  setLimits(l: Partial<LimitOptions>): void {
    this.core.limiter.configure(l);
  }

  /** Blocks the account now, as repeated violations would. */
  block(reason = 'blocked by admin'): void {
    this.core.limiter.imposeBlock(reason);
  }

  /** Lifts a 403 block (amoCRM: support does it). Returns whether there was one. */
  liftBlock(): boolean {
    return this.core.limiter.lift();
  }

  /** Everything back to a fresh bootstrapped account: entities, tokens, counters, limits state, faults, webhook records, amojo. Integrations and limit settings stay. */
  reset(): void {
    const core = this.core;
    core.state = core.freshState();
    core.oauth.reset();
    core.limiter.reset();
    core.faults.clear();
    core.counters.reset();
    core.hub.reset();
    core.deliverer = core.makeDeliverer();
    core.hub.deliverer = core.deliverer;
    core.amojo.reset();
  }

  /**
   * Moves a lead to another stage "as a manager would" in the amoCRM UI: updates it (updated_by =
   * the manager) and fires `status_lead` + `update_lead` webhooks (and `responsible_lead` never).
   * Resolves when the deliveries are done.
   */
  async moveLead(a: {
    leadId: number;
    statusId: number;
    pipelineId?: number;
    userId?: number;
  }): Promise<{ lead: Record<string, unknown>; deliveries: EmittedRecord[] }> {
    const s = this.core.state;
    const l: Lead | undefined = s.leads.get(a.leadId);
    if (!l) throw new AdminError(`no lead ${a.leadId}`, 404);
    const pipeline = s.pipelines.get(a.pipelineId ?? l.pipeline_id);
    if (!pipeline || !pipeline.statuses.some((x) => x.id === a.statusId))
      throw new AdminError(`status ${a.statusId} is not in pipeline ${a.pipelineId ?? l.pipeline_id}`);
    const user = a.userId ?? s.currentUserId();
    if (!s.users.has(user)) throw new AdminError(`no user ${user}`);
    const now = Math.floor(this.core.clock.now() / 1000);
    const oldStatus = l.status_id;
    const before = snapshot(l);
    const changed = l.status_id !== a.statusId || l.pipeline_id !== pipeline.id;
    l.status_id = a.statusId;
    l.pipeline_id = pipeline.id;
    l.updated_at = now;
    l.updated_by = user;
    if (changed) l.closed_at = a.statusId === 142 || a.statusId === 143 ? now : null;
    if (changed && a.statusId !== 143) l.loss_reason_id = null;
    recordUpdated(s, 'leads', l, before, user, now); // the event list's `lead_status_changed`
    const events = changed
      ? [
          { setting: 'status_lead', entity: 'leads' as const, action: 'status', item: leadItem(s, l, { oldStatusId: oldStatus }) },
          { setting: 'update_lead', entity: 'leads' as const, action: 'update', item: leadItem(s, l, { oldStatusId: oldStatus }) },
        ]
      : [];
    const deliveries = await this.core.hub.emit(events);
    return { lead: renderLead(adminCtx(this.core, { with: 'contacts' }), l), deliveries };
  }

  /**
   * Deletes a lead as a manager would in the UI: it leaves every list and `GET /leads/{id}` (204) and
   * goes to the trash, where `GET /api/v4/leads?with=only_deleted` lists it (leads-api). `updated_at`
   * / `updated_by` become the deletion's (*assumed*). Fires `delete_lead` (`leads[delete]`: id,
   * status_id, pipeline_id, capture webhook-07); `flushWebhooks()` waits for it.
   */
  deleteLead(a: { leadId: number; userId?: number }): Record<string, unknown> {
    const s = this.core.state;
    const l = s.leads.get(a.leadId);
    if (!l) throw new AdminError(`no lead ${a.leadId}`, 404);
    const user = a.userId ?? s.currentUserId();
    if (!s.users.has(user)) throw new AdminError(`no user ${user}`);
    s.leads.delete(l.id);
    l.updated_at = Math.floor(this.core.clock.now() / 1000);
    l.updated_by = user;
    s.deletedLeads.set(l.id, l);
    void this.core.hub.emit([{ setting: 'delete_lead', entity: 'leads', action: 'delete', item: leadDeleteItem(l) }]);
    return { id: l.id, is_deleted: true, updated_at: l.updated_at, updated_by: l.updated_by };
  }

  /** `query` search mode (README "Search modes"). */
  setSearchMode(mode: SearchMode): void {
    if (!SEARCH_MODES.includes(mode)) throw new AdminError(`search mode must be one of ${SEARCH_MODES.join(', ')}`);
    this.core.settings.search = mode;
  }

  searchMode(): SearchMode {
    return this.core.settings.search;
  }

  /** The refresh-token grace rule on (Kommo) or off (RU docs); applies to the next refresh. */
  setRefreshGrace(on: boolean): void {
    this.core.settings.refreshGrace = on;
  }

  /** Uninstalls an integration: revokes its tokens and sends the signed disconnect hook (docs/amocrm-protocol.md#disconnect-hook). */
  async uninstall(clientId: string): Promise<{ revoked: number; hook: { url: string; status: number | null; error?: string } | null }> {
    if (!this.core.oauth.integration(clientId)) throw new AdminError(`unknown integration ${clientId}`, 404);
    return this.core.oauth.uninstall(clientId);
  }

  addIntegration(i: IntegrationConfig): void {
    this.core.oauth.addIntegration(i);
  }

  /** A long-lived token (docs/amocrm-protocol.md#long-lived-tokens: 1 day to 5 years, no refresh token). */
  issueLongLivedToken(a: { clientId?: string; ttlSeconds?: number } = {}): { access_token: string; expires_at: number; client_id: string } {
    const clientId = a.clientId ?? this.core.oauth.integrationIds()[0];
    if (!clientId) throw new AdminError('no integration configured: pass clientId of a configured integration');
    if (!this.core.oauth.integration(clientId)) throw new AdminError(`unknown integration ${clientId}`, 404);
    const p = this.core.oauth.issueLongLived(clientId, a.ttlSeconds ?? 365 * 86400);
    return { access_token: p.accessToken, expires_at: Math.floor(p.accessExpiresAt / 1000), client_id: clientId };
  }

  /** An authorization code as the authorize page would mint (valid 20 min unless `ttlSeconds`). */
  mintCode(a: { clientId: string; ttlSeconds?: number }): { code: string; referer: string; client_id: string } {
    if (!this.core.oauth.integration(a.clientId)) throw new AdminError(`unknown integration ${a.clientId}`, 404);
    const code = this.core.oauth.mintCode(a.clientId, a.ttlSeconds !== undefined ? a.ttlSeconds * 1000 : undefined);
    return { code, referer: this.core.accountHost(), client_id: a.clientId };
  }

  /** Revokes tokens (all, or one integration's): the API then answers 401 (docs/amocrm-protocol.md#rotation-and-the-grace-rule). */
  revokeTokens(a: { clientId?: string } = {}): number {
    return this.core.oauth.revokeAll(a.clientId);
  }

  setAuthorizeDecision(d: 'approve' | 'deny'): void {
    this.core.oauth.authorizeDecision = d;
  }

  setFaults(rules: FaultRule[]): void {
    this.core.faults.set(rules);
  }

  faults(): FaultRule[] {
    return this.core.faults.list();
  }

  clearFaults(): void {
    this.core.faults.clear();
  }

  /** Every delivery attempt (the deliverer's records). */
  webhookDeliveries(): DeliveryRecord[] {
    return this.core.deliverer.records();
  }

  /** What the account decided to send, per destination, with the delivery result. */
  emittedWebhooks(): EmittedRecord[] {
    return this.core.hub.emitted();
  }

  /** Waits until every webhook delivery started so far has finished. */
  flushWebhooks(): Promise<void> {
    return this.core.hub.flush();
  }

  /** Redeliveries of failed webhooks waiting for their time (5 min, 15 min, 15 min, 1 h; README). */
  pendingWebhookRetries(): PendingRetry[] {
    return this.core.deliverer.pendingRetries();
  }

  /** Delivers the redeliveries due on the sandbox clock now (or all, `all: true`); resolves when they are done. */
  async runWebhookRetries(a: { all?: boolean } = {}): Promise<{ delivered: number }> {
    const r = await this.core.deliverer.runRetries(a);
    return { delivered: r.length };
  }

  /** Admin over HTTP: `/_sandbox/…`. */
  async http(req: SbRequest): Promise<SbResponse> {
    try {
      return await this.route(req);
    } catch (e) {
      if (e instanceof AdminError) return json(e.status, { error: e.message, details: e.details });
      if (e instanceof SeedError) return json(400, { error: e.message, details: e.details });
      throw e;
    }
  }

  private body(req: SbRequest): Record<string, unknown> {
    const p = parseJson(req.body);
    if (!p.ok) throw new AdminError('body is not JSON');
    if (p.empty) return {};
    if (!isRecord(p.value)) throw new AdminError('body must be a JSON object');
    return p.value;
  }

  private async route(req: SbRequest): Promise<SbResponse> {
    const { method, path } = req;
    const seg = path
      .replace(/^\/_sandbox\/?/, '')
      .split('/')
      .filter(Boolean);
    const key = `${method} ${seg.map((s) => (/^\d+$/.test(s) ? ':id' : s)).join('/')}`;
    const num = (i: number): number => Number(seg[i]);
    const b = (): Record<string, unknown> => this.body(req);
    switch (key) {
      case 'GET ':
        return json(200, { endpoints: ADMIN_ENDPOINTS });
      case 'POST seed':
        return json(200, this.seed(b() as SeedSpec));
      case 'GET state':
        return json(200, this.state());
      case 'GET entities/leads':
      case 'GET entities/contacts':
      case 'GET entities/companies':
      case 'GET entities/tasks':
        return json(200, this.entities(seg[1] as EntityKind | 'tasks'));
      case 'GET chat-links':
        return json(200, this.chatLinks());
      case 'GET tokens':
        return json(200, this.tokens());
      case 'GET token-calls':
        return json(200, this.tokenCalls());
      case 'POST tokens/long-lived': {
        const x = b();
        return json(
          200,
          this.issueLongLivedToken({
            ...(typeof x.client_id === 'string' ? { clientId: x.client_id } : {}),
            ...(typeof x.ttl_seconds === 'number' ? { ttlSeconds: x.ttl_seconds } : {}),
          }),
        );
      }
      case 'POST tokens/revoke': {
        const x = b();
        return json(200, { revoked: this.revokeTokens(typeof x.client_id === 'string' ? { clientId: x.client_id } : {}) });
      }
      case 'POST codes': {
        const x = b();
        if (typeof x.client_id !== 'string') throw new AdminError('client_id is required');
        return json(
          200,
          this.mintCode({ clientId: x.client_id, ...(typeof x.ttl_seconds === 'number' ? { ttlSeconds: x.ttl_seconds } : {}) }),
        );
      }
      case 'GET counters':
        return json(200, this.counters());
      case 'GET limits':
        return json(200, this.limits());
      case 'PUT limits':
        this.setLimits(b() as Partial<LimitOptions>);
        return json(200, this.limits());
      case 'POST block': {
        const x = b();
        this.block(typeof x.reason === 'string' ? x.reason : undefined);
        return json(200, this.limits());
      }
      case 'DELETE block':
        return json(200, { lifted: this.liftBlock() });
      case 'POST reset':
        this.reset();
        return json(200, { reset: true });
      case 'POST leads/:id/move': {
        const x = b();
        if (typeof x.status_id !== 'number') throw new AdminError('status_id (number) is required');
        return json(
          200,
          await this.moveLead({
            leadId: num(1),
            statusId: x.status_id,
            ...(typeof x.pipeline_id === 'number' ? { pipelineId: x.pipeline_id } : {}),
            ...(typeof x.user_id === 'number' ? { userId: x.user_id } : {}),
          }),
        );
      }
      case 'POST leads/:id/delete': {
        const x = b();
        return json(200, this.deleteLead({ leadId: num(1), ...(typeof x.user_id === 'number' ? { userId: x.user_id } : {}) }));
      }
      case 'GET search':
        return json(200, { mode: this.searchMode() });
      case 'PUT search': {
        const x = b();
        this.setSearchMode(x.mode as SearchMode);
        return json(200, { mode: this.searchMode() });
      }
      case 'GET refresh-grace':
        return json(200, { on: this.core.settings.refreshGrace });
      case 'PUT refresh-grace': {
        const x = b();
        if (typeof x.on !== 'boolean') throw new AdminError('on (boolean) is required');
        this.setRefreshGrace(x.on);
        return json(200, { on: x.on });
      }
      case 'POST integrations': {
        const x = b();
        if (typeof x.clientId !== 'string' || typeof x.clientSecret !== 'string' || typeof x.redirectUri !== 'string')
          throw new AdminError('clientId, clientSecret, redirectUri are required');
        this.addIntegration({
          clientId: x.clientId,
          clientSecret: x.clientSecret,
          redirectUri: x.redirectUri,
          ...(typeof x.disconnectUrl === 'string' ? { disconnectUrl: x.disconnectUrl } : {}),
        });
        return json(200, { added: x.clientId });
      }
      case 'PUT authorize-decision': {
        const x = b();
        if (x.decision !== 'approve' && x.decision !== 'deny') throw new AdminError('decision must be approve or deny');
        this.setAuthorizeDecision(x.decision);
        return json(200, { decision: x.decision });
      }
      case 'GET faults':
        return json(200, this.faults());
      case 'PUT faults': {
        const x = b();
        if (!Array.isArray(x.rules)) throw new AdminError('rules (array) is required');
        this.setFaults(x.rules as FaultRule[]);
        return json(200, this.faults());
      }
      case 'DELETE faults':
        this.clearFaults();
        return json(200, []);
      case 'GET webhooks/deliveries':
        return json(200, this.webhookDeliveries());
      case 'GET webhooks/emitted':
        return json(200, this.emittedWebhooks());
      case 'GET webhooks/subscriptions':
        return json(200, this.webhookSubscriptions());
      case 'POST webhooks/flush':
        await this.flushWebhooks();
        return json(200, { flushed: true });
      case 'GET webhooks/pending':
        return json(200, this.pendingWebhookRetries());
      case 'POST webhooks/retry':
        return json(200, await this.runWebhookRetries({ all: b().all === true }));
      default:
        // POST integrations/{clientId}/uninstall (client ids are not numeric-only in general)
        if (method === 'POST' && seg[0] === 'integrations' && seg[2] === 'uninstall' && seg[1]) {
          return json(200, await this.uninstall(decodeURIComponent(seg[1])));
        }
        return json(404, { error: `no admin endpoint ${method} ${path}`, endpoints: ADMIN_ENDPOINTS });
    }
  }
}

export const ADMIN_ENDPOINTS = [
  'GET    /_sandbox                              this list',
  'POST   /_sandbox/seed                         seed the account (users, pipelines, customFields, tags, taskTypes, companies, contacts, leads, catalogs, webhooks)',
  'GET    /_sandbox/state                        account summary',
  'GET    /_sandbox/entities/{leads|contacts|companies|tasks}',
  'GET    /_sandbox/chat-links',
  'GET    /_sandbox/tokens                       token records (fingerprints only)',
  'GET    /_sandbox/token-calls                  every token-endpoint call with grant and outcome',
  'POST   /_sandbox/tokens/long-lived            {client_id?, ttl_seconds?} → {access_token, expires_at}',
  'POST   /_sandbox/tokens/revoke                {client_id?}',
  'POST   /_sandbox/codes                        {client_id, ttl_seconds?} → {code, referer}',
  'GET    /_sandbox/counters                     calls by method/route/status, token endpoint by grant:outcome, 429s, blocks',
  'GET    /_sandbox/limits   PUT {perIntegrationPerSecond?, perAccountPerSecond?, violationsBeforeBlock?, violationWindowSeconds?}',
  'POST   /_sandbox/block    DELETE /_sandbox/block (lift)',
  'POST   /_sandbox/reset',
  'POST   /_sandbox/leads/{id}/move              {status_id, pipeline_id?, user_id?} — as a manager; fires webhooks',
  'POST   /_sandbox/leads/{id}/delete            {user_id?} — as a manager; then listed by with=only_deleted',
  'GET|PUT /_sandbox/search                      PUT {mode: normalising|literal|noisy} — how `query` searches',
  'GET|PUT /_sandbox/refresh-grace               PUT {on: boolean} — the refresh-token grace rule',
  'POST   /_sandbox/integrations                 {clientId, clientSecret, redirectUri, disconnectUrl?}',
  'POST   /_sandbox/integrations/{clientId}/uninstall   revokes tokens, sends the signed disconnect hook',
  'PUT    /_sandbox/authorize-decision           {decision: approve|deny}',
  'GET|PUT|DELETE /_sandbox/faults               PUT {rules:[{path, method?, errorRate?, errorStatus?, latencyMs?, timeoutRate?, dropRate?, times?}]}',
  'GET    /_sandbox/webhooks/subscriptions | /deliveries | /emitted   POST /_sandbox/webhooks/flush',
  'GET    /_sandbox/webhooks/pending             redeliveries waiting   POST /_sandbox/webhooks/retry {all?} delivers the due ones now',
  '*      /_sandbox/amojo/…                      amojo admin (see amojo module)',
];
