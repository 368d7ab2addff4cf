/**
 * The console's actions. Each is a CLI command run through the same code: `dlq replay` and
 * `dlq purge --yes` are `replayParked` / `purgeParked` (lib/aws/dlq-ops.ts) over the same queues
 * and DLQ index the CLI's `--local` target opens (infra/cli/commands/dlq.ts); only the way the
 * selection arrives differs (a form instead of flags).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { purgeParked, replayParked, type DlqOpsDeps, type RunReport } from '../../../lib/aws/dlq-ops.ts';
import { DlqOpsError, type DlqQueueRef } from '../../../lib/dlq/index.ts';
import type { DlqIndex } from '../../../lib/pipeline/dlq-index.ts';
import { DlqIndexError } from '../../../lib/pipeline/dlq-index.ts';
import type { LocalQueue } from '../stand-ins.ts';

export type ConsoleAction = 'replay' | 'purge';

/** What to act on: one parked message (`id`, as `dlq list` prints it) or every one of a queue. */
export interface ActionSelection {
  id?: string;
  queue?: string;
}

export interface ActionResult {
  ok: boolean;
  /** One line for the operator (no body, no token). */
  message: string;
  report?: RunReport;
}

export function dlqOpsDeps(sqs: SQSClient, index: DlqIndex, queues: Readonly<Record<string, LocalQueue>>): DlqOpsDeps {
  const refs: DlqQueueRef[] = Object.values(queues).map((q) => ({ id: q.id, url: q.url, dlqUrl: q.dlqUrl, fifo: q.def.fifo === true }));
  // As the CLI against a local fauxqs: it answers at once, no long poll needed.
  return { sqs, index, queues: refs, waitSeconds: 0 };
}

function summary(action: ConsoleAction, r: RunReport): string {
  const verb = action === 'replay' ? 'replayed' : 'purged';
  const parts = [`${r.done} ${verb}`];
  if (r.failed.length) parts.push(`${r.failed.length} failed (${r.failed.map((f) => `${f.ref}: ${f.stage} — ${f.error}`).join('; ')})`);
  if (r.indexLeft.length) parts.push(`${r.indexLeft.length} index entries left`);
  if (r.stale.length)
    parts.push(action === 'purge' ? `${r.staleRemoved} stale index entries removed` : `${r.stale.length} index entries without a message`);
  for (const u of r.unproven) parts.push(`${u.refs.length} not seen in ${u.queueId} (held by another reader)`);
  return parts.join(', ');
}

export async function runAction(deps: DlqOpsDeps, action: ConsoleAction, sel: ActionSelection): Promise<ActionResult> {
  if (!sel.id && !sel.queue) return { ok: false, message: 'nothing selected: give a parked message id or a queue' };
  const opts = { ...(sel.id ? { ids: [sel.id] } : {}), ...(sel.queue ? { queue: sel.queue } : {}) };
  try {
    const report = action === 'replay' ? await replayParked(deps, opts) : await purgeParked(deps, opts);
    return { ok: report.failed.length === 0, message: summary(action, report), report };
  } catch (e) {
    if (e instanceof DlqOpsError || e instanceof DlqIndexError) return { ok: false, message: e.message };
    throw e;
  }
}
