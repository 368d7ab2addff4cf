/**
 * The outbound trigger: a flow on `lead.status` events. A lead of an `onec.outbound` account that
 * reaches its trigger status is exported to 1C (export.ts). The export's key is the lead and the
 * status change (account, lead, status, the change's time), not the delivery: a webhook amoCRM
 * redelivers, or the same move reported twice, finds the ledger's record and exports nothing.
 * A failure throws RetryableError / PermanentError, so the webhook message is retried with backoff
 * and then parked (lib/pipeline), after the note and task export.ts adds.
 */
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { LeadEvent } from '../../amocrm/webhooks/types.ts';
import type { SecretSource } from '../../config/secrets.ts';
import type { FlowRegistry } from '../../ingest/flows.ts';
import { noMetrics, type MetricsSink } from '../../common/metrics-sink.ts';
import { METRIC } from '../../metrics.ts';
import type { OnecExportAccount, OnecOutbound } from './config.ts';
import { exportLead, type ExportLedger } from './export.ts';

export const ONEC_EXPORT_FLOW = 'onec-export';

export interface OnecFlowDeps {
  outbound: OnecOutbound;
  secrets: SecretSource;
  clientFor: (accountId: string) => AmoClientForAccount;
  ledger: ExportLedger;
  fetch?: typeof fetch;
  metrics?: MetricsSink;
  now?: () => number;
}

/** The export key of one status change. */
export function statusChangeKey(account: string, lead: { id: number; status_id?: number; updated_at?: number }): string {
  return `onec:${account}:lead:${lead.id}:status:${lead.status_id ?? ''}:${lead.updated_at ?? ''}`;
}

export function triggers(acc: OnecExportAccount, lead: { status_id?: number; pipeline_id?: number }): boolean {
  if (!acc.trigger) return false;
  if (lead.status_id !== acc.trigger.statusId) return false;
  return acc.trigger.pipelineId === undefined || lead.pipeline_id === acc.trigger.pipelineId;
}

/** Exports one lead now (the flow and the CLI); counts OnecExported / OnecExportFailed. */
export async function exportNow(deps: OnecFlowDeps, acc: OnecExportAccount, leadId: number, key: string) {
  const metrics = deps.metrics ?? noMetrics;
  const password = await deps.secrets.get(deps.outbound.password.secret);
  try {
    const r = await exportLead(
      {
        client: deps.clientFor(acc.account),
        outbound: deps.outbound,
        account: acc,
        password,
        ledger: deps.ledger,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
        ...(deps.now ? { now: deps.now } : {}),
      },
      leadId,
      key,
    );
    if (r.exported) metrics.count(METRIC.onecExported, { account: acc.account });
    return r;
  } catch (e) {
    metrics.count(METRIC.onecExportFailed, { account: acc.account });
    throw e;
  }
}

export function registerOnecFlow(registry: FlowRegistry, deps: OnecFlowDeps): FlowRegistry {
  return registry.on('lead.status', ONEC_EXPORT_FLOW, async (event, ctx) => {
    const acc = deps.outbound.accounts.find((a) => a.account === ctx.account.id);
    const lead = (event as LeadEvent).data;
    if (!acc || !triggers(acc, lead)) return;
    await exportNow(deps, acc, lead.id, statusChangeKey(acc.account, lead));
  });
}
