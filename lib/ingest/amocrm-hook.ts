/**
 * The worker's processor for route `amocrm-hook` (POST /hooks/amocrm/{token}): amoCRM account
 * webhooks, acked at the edge, processed here (README.md in this folder):
 *
 * 1. the path token, FIRST: constant-time against every account's `hookToken` → else park
 *    `bad-token` at once (one receive, no retries) and count `WebhookBadToken`;
 * 2. parse the exact body bytes (`parseAccountWebhook`) → else park `invalid-webhook` with the
 *    parser's code and message;
 * 3. the body's `account` (subdomain, and id when the config names it) must be the token's
 *    account → else park `account-mismatch`;
 * 4. the delivery fingerprint: the same body bytes already processed for this account within
 *    amoCRM's redelivery window → skipped (a redelivery may carry a new X-Amocrm-Requestid, which
 *    the events' own keys use; README.md "Idempotency keys");
 * 5. every event in body order through its idempotent step (event-step.ts): publish
 *    `amocrm.<kind>`, then the registered flows. Errors keep their pipeline meaning: DeferError →
 *    defer, PermanentError → park, anything else → retry of the whole message (done events are
 *    skipped next time).
 *
 * The token never appears in a log line, an error, an event or the DLQ index (the pipeline also
 * redacts the envelope's path parameters out of `lastError`).
 */
import { parseAccountWebhook } from '../amocrm/webhooks/index.ts';
import type { WebhookAccount } from '../amocrm/webhooks/types.ts';
import type { AccountConfig, Config } from '../config/schema.ts';
import type { SecretSource } from '../config/secrets.ts';
import type { EventPublisher } from '../events/bus.ts';
import { DeferError, ok, park } from '../pipeline/outcome.ts';
import type { RouteProcessor } from '../pipeline/registry.ts';
import { IdempotencyInProgressError, type IdempotencyGuard } from './idempotency.ts';
import { IN_PROGRESS_DEFER_SECONDS, runEventStep } from './event-step.ts';
import { FlowRegistry } from './flows.ts';
import { HookTokenMatcher } from './hook-tokens.ts';
import { METRIC } from '../metrics.ts';
import type { MetricsSink } from '../common/metrics-sink.ts';
import type { MirrorGate } from './mirroring.ts';

export const AMOCRM_HOOK_ROUTE = 'amocrm-hook';

/**
 * How long a processed delivery's bytes mark a later delivery with the same bytes as its
 * redelivery. amoCRM retries a failed delivery after 5 min, 15 min, 15 min and 1 h (1 h 35 min in
 * all; docs/amocrm-protocol.md#timeout-retries-and-disabling); 3 h leaves room for queue lag.
 * Beyond it the same bytes are a new event (a Digital Pipeline hook of a lead entering the same
 * stage again carries no timestamps).
 */
export const REDELIVERY_WINDOW_SECONDS = 3 * 3600;

/** Park reasons this processor gives (the pipeline adds its own: out-of-attempts, body-too-large, …). */
export const HOOK_PARK_REASONS = {
  badToken: 'bad-token',
  invalidWebhook: 'invalid-webhook',
  accountMismatch: 'account-mismatch',
} as const;

export interface AmocrmHookDeps {
  config: Config;
  secrets: SecretSource;
  guard: IdempotencyGuard;
  /** Where `amocrm.*` events go; not used when `config.events.publish` is false. */
  bus: EventPublisher;
  flows?: FlowRegistry;
  metrics?: MetricsSink;
  /** Injected in tests; built from config + secrets otherwise. */
  tokens?: HookTokenMatcher;
}

/** Does the body's `account` block name this configured account? */
export function accountMatches(body: WebhookAccount, account: AccountConfig): boolean {
  if (body.subdomain.toLowerCase() !== account.subdomain) return false;
  // 2016–2018 bodies carry no id; a configured id is only checked when the body has one.
  if (account.accountId !== undefined && body.id !== undefined && body.id !== account.accountId) return false;
  return true;
}

/**
 * The mirror's gate for this route (mirroring.ts): the same token check as step 1, so a request
 * is mirrored — under the mirror's own valid token — only when its token is one of ours.
 */
export function hookTokenGate(tokens: HookTokenMatcher): MirrorGate {
  return async (env) => (await tokens.match(env.params.token)).length > 0;
}

export function createAmocrmHookProcessor(deps: AmocrmHookDeps): RouteProcessor {
  const tokens = deps.tokens ?? new HookTokenMatcher({ config: deps.config, secrets: deps.secrets });
  const flows = deps.flows ?? new FlowRegistry();
  const bus = deps.config.events.publish ? deps.bus : undefined;
  const metrics = deps.metrics;
  let warnedNoTokens = false;

  return async (env, ctx) => {
    if (!warnedNoTokens && tokens.configuredAccounts.length === 0) {
      warnedNoTokens = true;
      ctx.log.warn('no account in the config has a hookToken: every amoCRM webhook is parked bad-token');
    }
    const candidates = await tokens.match(env.params.token, ctx.log);
    if (candidates.length === 0) {
      metrics?.count(METRIC.badToken);
      return park(HOOK_PARK_REASONS.badToken, 'the path token matches no configured account');
    }

    const parsed = parseAccountWebhook(ctx.body, env.headers);
    if (!parsed.ok) return park(HOOK_PARK_REASONS.invalidWebhook, `${parsed.error.code}: ${parsed.error.message}`);

    const account = candidates.find((a) => accountMatches(parsed.account, a));
    if (!account) {
      const own = candidates[0] as AccountConfig;
      const named = `subdomain "${parsed.account.subdomain}"${parsed.account.id !== undefined ? ` (id ${parsed.account.id})` : ''}`;
      return park(
        HOOK_PARK_REASONS.accountMismatch,
        `the webhook names account ${named}, but its path token belongs to account "${own.id}" (subdomain "${own.subdomain}")`,
      );
    }

    const meta = {
      account: account.id,
      requestId: env.requestId,
      ...(parsed.requestId !== undefined ? { amocrmRequestId: parsed.requestId } : {}),
      receivedAt: env.receivedAt,
    };
    let published = 0;
    let ran = 0;
    let duplicates = 0;
    const runEvents = async (): Promise<void> => {
      for (const ev of parsed.events) {
        const r = await runEventStep(ev, account, meta, {
          guard: deps.guard,
          bus,
          flows,
          log: ctx.log,
          now: ctx.now,
          mayHaveRun: ctx.mayHaveRun,
          onPublished: () => published++,
        });
        if (r.status === 'duplicate') duplicates++;
        else ran++;
        ctx.log.debug('amocrm event', { account: account.id, kind: ev.kind, entityId: ev.entityId, index: ev.index, status: r.status });
      }
    };
    try {
      const delivery = await deps.guard.once(`amocrm:${account.id}:delivery:${parsed.bodySha256}`, runEvents, {
        ttlSeconds: REDELIVERY_WINDOW_SECONDS,
      });
      if (delivery.status === 'duplicate') duplicates = parsed.events.length;
    } catch (e) {
      // The same bytes are being processed by another worker right now (a redelivery racing the first).
      if (e instanceof IdempotencyInProgressError) throw new DeferError('event-in-progress', IN_PROGRESS_DEFER_SECONDS, { cause: e });
      throw e;
    } finally {
      if (published > 0) metrics?.count(METRIC.eventsPublished, {}, published);
    }
    const summary = { account: account.id, events: parsed.events.length, ran, duplicates, published };
    if (duplicates > 0) ctx.log.info('amocrm webhook: duplicate events skipped', summary);
    else ctx.log.debug('amocrm webhook', summary);
    return ok();
  };
}
