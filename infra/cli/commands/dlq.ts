/**
 * `dlq list | show | replay | purge`: what the worker parked (docs/architecture.md, "Failure
 * semantics"), why, and putting it back. The SQS/DynamoDB work is lib/aws/dlq-ops.ts, the pure
 * parts lib/dlq/; the target is infra/cli/target.ts; this file parses flags and prints.
 */
import cliProgress from 'cli-progress';
import {
  listParked,
  purgeParked,
  replayParked,
  showParked,
  type DlqOpsDeps,
  type RunEvent,
  type RunOptions,
  type RunReport,
} from '../../../lib/aws/dlq-ops.ts';
import { DlqOpsError, renderBody, summarizeEnvelope, type DlqQueueRef, type ListedItem } from '../../../lib/dlq/index.ts';
import { DynamoDlqIndex } from '../../../lib/store/dlq-index.ts';
import { DlqIndexError } from '../../../lib/pipeline/dlq-index.ts';
import { routeTable } from '../../../lib/routes.ts';
import { CliError, type CliIO, type Command, type OptionValues, type Options } from '../command.ts';
import { openSqs, openTable, resolveTarget, targetQueues, TARGET_OPTIONS } from '../target.ts';
import { clip, iso, str, table } from '../format.ts';

// ---------------------------------------------------------------------------------------------
// Target: where the queues and the table are (infra/cli/target.ts, as for every command).

interface DlqTarget {
  deps: DlqOpsDeps;
  /** e.g. "stack AmoGateway (eu-central-1), table …" — for messages. */
  label: string;
  close(): void;
}

async function openTarget(values: OptionValues, io: CliIO): Promise<DlqTarget> {
  const t = await resolveTarget(values, io, { needsQueues: true });
  const sqs = openSqs(t, io);
  const table = openTable(t, io);
  const close = () => {
    sqs.destroy();
    table.close();
  };
  let queues: DlqQueueRef[];
  try {
    queues = await targetQueues(t, sqs);
  } catch (e) {
    close();
    throw e;
  }
  const index = new DynamoDlqIndex({ doc: table.doc, tableName: t.tableName, queueIds: queues.map((q) => q.id) });
  // A local fauxqs answers at once; AWS needs a long poll to ask all its servers.
  const waitSeconds = t.sqsEndpoint ? 0 : 1;
  const now = io.clock ? () => io.clock!.now() : Date.now;
  return { deps: { sqs, index, queues, waitSeconds, now }, label: `${t.label}, table ${t.tableName}`, close };
}

async function withTarget<T>(values: OptionValues, io: CliIO, fn: (t: DlqTarget) => Promise<T>): Promise<T> {
  const t = await openTarget(values, io);
  try {
    return await fn(t);
  } catch (e) {
    if (e instanceof DlqOpsError || e instanceof DlqIndexError) throw new CliError(e.message, 1, { cause: e });
    throw e;
  } finally {
    t.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Flag parsing.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `15m`, `2h`, `7d`, `1w`, `1h30m` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (UNITS[m[2] ?? ''] ?? 0);
    matched = re.lastIndex;
  }
  return matched === text.length && text.length > 0 ? total : undefined;
}

function flagDuration(name: string, v: OptionValues[string]): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  const ms = parseDuration(s);
  if (ms === undefined) throw new CliError(`--${name}: "${s}" is not a duration (e.g. 30m, 12h, 7d, 1h30m)`, 2);
  return ms;
}

/** An ISO time, or a duration meaning "that long ago". */
function flagSince(v: OptionValues[string], now: number): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  const ms = parseDuration(s);
  if (ms !== undefined) return now - ms;
  const t = Date.parse(s);
  if (!Number.isFinite(t)) throw new CliError(`--since: "${s}" is neither an ISO time nor a duration (e.g. 2026-01-15T09:00:00Z, 2h)`, 2);
  return t;
}

function flagLimit(v: OptionValues[string]): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(s)) throw new CliError(`--limit: "${s}" is not a whole number ≥ 1`, 2);
  return Number(s);
}

/** The --queue/--route/--reason/--id selection shared by replay and purge. */
function selection(values: OptionValues, ids: string[] | undefined): { queue?: string; route?: string; reason?: string; ids?: string[] } {
  return {
    ...(str(values.queue) ? { queue: str(values.queue) } : {}),
    ...(str(values.route) ? { route: str(values.route) } : {}),
    ...(str(values.reason) ? { reason: str(values.reason) } : {}),
    ...(ids?.length ? { ids } : {}),
  };
}

function flagIds(values: OptionValues): string[] | undefined {
  // `multiple: true` options arrive as arrays; OptionValues does not say so.
  const raw = (values as Record<string, unknown>).id;
  if (raw === undefined) return undefined;
  return (Array.isArray(raw) ? raw : [raw]).filter((x): x is string => typeof x === 'string' && x !== '');
}

// ---------------------------------------------------------------------------------------------
// Printing.

function counts(byReason: Record<string, number>): string {
  return Object.entries(byReason)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
}

function listedJson(i: ListedItem): Record<string, unknown> {
  return {
    id: i.ref,
    queue: i.queueId,
    route: i.route,
    reason: i.reason,
    attempts: i.attempts ?? null,
    firstSeenAt: i.firstSeenAt === undefined ? null : new Date(i.firstSeenAt).toISOString(),
    lastSeenAt: Number.isFinite(i.parkedAt) && i.parkedAt > 0 ? new Date(i.parkedAt).toISOString() : null,
    lastError: i.lastError,
    requestId: i.entry?.requestId ?? null,
    messageKey: i.entry?.messageKey ?? null,
    ...(i.inDlq !== undefined ? { inDlq: i.inDlq } : {}),
  };
}

type ProgressMode = 'bar' | 'lines' | 'none';

function progressMode(values: OptionValues, io: CliIO): ProgressMode {
  const v = str(values.progress);
  if (v === 'bar' || v === 'lines' || v === 'none') return v;
  if (v !== undefined) throw new CliError(`--progress must be bar, lines or none, not "${v}"`, 2);
  // A bar only when this is the real process writing to a terminal (tests pass their own io/env).
  return io.env === process.env && process.stderr.isTTY && !io.env.CI ? 'bar' : 'lines';
}

const VERB = { replay: { done: 'replayed', would: 'would replay' }, purge: { done: 'purged', would: 'would purge' } } as const;

function describe(item: { ref: string; route: string; reason: string }): string {
  return `${item.ref} route=${item.route} reason=${item.reason}`;
}

/** Runs replay/purge with a bar on a TTY or one line per message, then prints the summary. */
async function runWithProgress(
  io: CliIO,
  mode: ProgressMode,
  action: 'replay' | 'purge',
  run: (opts: Pick<RunOptions, 'onEvent'>) => Promise<RunReport>,
  dryRun: boolean,
): Promise<RunReport> {
  const verb = VERB[action];
  const tally = { done: 0, skipped: 0, failed: 0 };
  let bar: cliProgress.SingleBar | undefined;
  const useBar = mode === 'bar' && !dryRun;
  const onEvent = (e: RunEvent) => {
    switch (e.kind) {
      case 'start':
        if (useBar) {
          bar = new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: `${action} |{bar}| {value}/{total} ${verb.done}={done} skipped={skipped} failed={failed}`,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(Math.max(1, e.approxTotal), 0, tally);
        }
        return;
      case 'would':
        io.out(`${verb.would} ${describe(e.item)}`);
        return;
      case 'done':
        tally.done++;
        if (mode === 'lines') io.out(`${verb.done} ${describe(e.item)}`);
        break;
      case 'skipped':
        tally.skipped++;
        break;
      case 'failed':
        tally.failed++;
        // Failures always get a line, whatever the mode.
        io.err(`failed (${e.stage}) ${describe(e.item)}: ${e.error}`);
        break;
      case 'index-left':
        io.err(`warning: ${e.item.ref} was ${verb.done} but its index entry could not be removed: ${e.error}`);
        return;
      case 'stale':
        if (mode === 'lines' || dryRun)
          io.out(`${e.removed ? 'removed stale index entry' : 'stale index entry (no message in the DLQ)'} ${describe(e.item)}`);
        return;
      case 'unproven':
        if (mode === 'lines' || dryRun) io.out(`kept index entry (its message may be held by another reader) ${describe(e.item)}`);
        return;
    }
    if (bar) {
      const seen = tally.done + tally.skipped + tally.failed;
      if (seen > bar.getTotal()) bar.setTotal(seen);
      bar.update(seen, tally);
    }
  };
  try {
    return await run({ onEvent });
  } finally {
    bar?.stop();
  }
}

function printSummary(io: CliIO, r: RunReport, limit: number | undefined): void {
  const verb = VERB[r.action];
  const failedSend = r.failed.filter((f) => !f.inMainQueue);
  const duplicated = r.failed.filter((f) => f.inMainQueue);
  const head = r.dryRun
    ? `dry run: ${verb.would} ${r.done}, skipped by filter ${r.skipped}; nothing was changed`
    : `${verb.done} ${r.done}, skipped by filter ${r.skipped}, failed ${r.failed.length}`;
  io.out(head);
  if (failedSend.length) {
    const why = r.action === 'replay' ? 'not sent' : 'not deleted';
    io.out(
      `  ${failedSend.length} ${why}: still in the DLQ (let go again${r.releaseErrors ? `; some reappear within ${r.holdSeconds} s` : ''}); run the command again to retry them`,
    );
  }
  if (duplicated.length) {
    io.out(
      `  ${duplicated.length} sent to the main queue but could not be deleted from the DLQ: they will be processed; they reappear in the DLQ within ${r.holdSeconds} s — purge them (replaying again would send a duplicate)`,
    );
    for (const d of duplicated) io.out(`    ${d.ref}`);
  }
  if (r.indexLeft.length)
    io.out(
      `  ${r.indexLeft.length} index entr${r.indexLeft.length === 1 ? 'y' : 'ies'} could not be removed (stale now; \`dlq purge --yes\` clears them)`,
    );
  if (r.limitReached) io.out(`  stopped at --limit ${limit ?? ''}: more matching messages remain in the DLQ`);
  if (r.stale.length) {
    io.out(
      r.action === 'purge' && !r.dryRun
        ? `  removed ${r.staleRemoved} of ${r.stale.length} index entr${r.stale.length === 1 ? 'y' : 'ies'} whose message was no longer in the DLQ`
        : `  ${r.stale.length} index entr${r.stale.length === 1 ? 'y has' : 'ies have'} no message in the DLQ (expired, or taken by someone else); \`dlq purge --yes\` with the same filter removes them`,
    );
  }
  for (const u of r.unproven) {
    const n = u.refs.length;
    const why =
      u.heldElsewhere === undefined
        ? "could not read the DLQ's depth"
        : `${u.heldElsewhere} message(s) in flight elsewhere (a concurrent dlq show, list --scan, replay or purge holds them for up to ${r.holdSeconds} s)`;
    io.out(
      `  ${u.queueId}: ${why}: ${n} index entr${n === 1 ? 'y' : 'ies'} without a message seen ${n === 1 ? 'was' : 'were'} kept, not taken for stale — run it again once they are let go`,
    );
  }
  if (r.incomplete)
    io.out(
      `  the pass took longer than its ${r.holdSeconds} s hold and met its own messages again: some may not have been looked at — run it again`,
    );
  if (r.releaseErrors)
    io.out(`  ${r.releaseErrors} message(s) could not be let go explicitly: they become visible again within ${r.holdSeconds} s`);
}

// ---------------------------------------------------------------------------------------------
// Commands.

const FILTER_OPTIONS: Options = {
  queue: { type: 'string', valueName: 'id', description: `only this queue (${routeTable.queues.map((q) => q.id).join(', ')})` },
  route: { type: 'string', valueName: 'id', description: 'only this route id (e.g. zdrav-mc)' },
  reason: { type: 'string', valueName: 'reason', description: 'only this park reason (e.g. out-of-attempts, unindexed)' },
};

const RUN_OPTIONS: Options = {
  id: { type: 'string', multiple: true, valueName: 'id', description: 'only this id as `dlq list` prints it (repeatable)' },
  limit: { type: 'string', valueName: 'n', description: 'at most n messages' },
  'dry-run': { type: 'boolean', description: 'change nothing; print what would be done' },
  progress: { type: 'string', valueName: 'bar|lines|none', description: 'a progress bar (default on a terminal) or one line per message' },
};

export const dlqCommands: Command[] = [
  {
    path: ['dlq', 'list'],
    summary: 'what is parked and why, from the DLQ index (counts per reason at the end)',
    details:
      'Reads the DLQ index (queue, route, reason, attempts, first/last seen, last error — already redacted).\n' +
      "It also compares each DLQ's depth with its index: messages without an entry (moved there by SQS's own\n" +
      'maxReceiveCount net) are listed with reason `unindexed` by --scan (or --reason unindexed), which\n' +
      'receives through the DLQs and lets every message go again (nothing is deleted).',
    options: {
      ...TARGET_OPTIONS,
      ...FILTER_OPTIONS,
      since: {
        type: 'string',
        valueName: 'ISO|duration',
        description: 'parked at or after this time (or e.g. 2h = in the last two hours)',
      },
      limit: { type: 'string', valueName: 'n', description: 'print at most n entries (oldest first); counts cover all' },
      scan: { type: 'boolean', description: 'also receive through the DLQs: unindexed messages, entries without a message' },
      json: { type: 'boolean', description: 'JSON lines (one per entry) instead of a table; counts go to stderr' },
    },
    async run({ io, values }) {
      return withTarget(values, io, async (t) => {
        const now = (t.deps.now ?? Date.now)();
        const since = flagSince(values.since, now);
        const limit = flagLimit(values.limit);
        const res = await listParked(t.deps, {
          ...(str(values.queue) ? { queue: str(values.queue) } : {}),
          ...(str(values.route) ? { route: str(values.route) } : {}),
          ...(str(values.reason) ? { reason: str(values.reason) } : {}),
          ...(since !== undefined ? { since } : {}),
          scan: values.scan === true,
        });
        const shown = limit !== undefined ? res.items.slice(0, limit) : res.items;
        const report = values.json ? io.err : io.out;
        if (values.json) {
          for (const i of shown) io.out(JSON.stringify(listedJson(i)));
        } else if (shown.length) {
          const rows = [
            ['QUEUE', 'ROUTE', 'REASON', 'ATTEMPTS', 'FIRST SEEN', 'LAST SEEN', 'ID', 'LAST ERROR'],
            ...shown.map((i) => [
              i.queueId,
              i.route,
              i.reason,
              i.attempts === undefined ? '-' : String(i.attempts),
              iso(i.firstSeenAt),
              iso(i.parkedAt || undefined),
              i.ref,
              clip(i.lastError, 80) || '-',
            ]),
          ];
          for (const l of table(rows)) io.out(l);
          if (res.scanned)
            for (const i of shown)
              if (i.inDlq === false) io.out(`note: ${i.ref} has no message in its DLQ (expired, replayed or purged by hand)`);
          io.out('');
        }
        if (res.items.length === 0)
          report(
            `nothing parked${values.queue || values.route || values.reason || since !== undefined ? ' matching the filter' : ''} (${t.label})`,
          );
        else
          report(
            `${res.items.length} parked: ${counts(res.byReason)}${shown.length < res.items.length ? ` (showing ${shown.length}, --limit ${limit})` : ''}`,
          );
        for (const q of res.queues) {
          if (q.incomplete)
            report(`${q.id}: the scan outlasted its hold and met its own messages again: the list may be short — run it again`);
          if (q.unproven) {
            const why =
              q.heldElsewhere === undefined
                ? 'its depth could not be read'
                : `${q.heldElsewhere} message(s) of its DLQ were held by another reader`;
            report(
              `${q.id}: ${q.unproven} index entr${q.unproven === 1 ? 'y' : 'ies'} without a message seen: ${why}, so they may well be there — run it again to tell`,
            );
          }
          if (q.depthError) {
            report(`${q.id}: could not read the DLQ's depth: ${q.depthError}`);
            continue;
          }
          if (!q.depth || res.scanned) continue;
          const inDlq = q.depth.visible + q.depth.inFlight + q.depth.delayed;
          if (inDlq > q.indexed)
            report(
              `${q.id}: the DLQ holds about ${inDlq} message(s), the index ${q.indexed}: about ${inDlq - q.indexed} unindexed (\`dlq list --scan\` lists them)`,
            );
          else if (inDlq < q.indexed)
            report(
              `${q.id}: the index has ${q.indexed} entr${q.indexed === 1 ? 'y' : 'ies'}, the DLQ about ${inDlq} message(s) (in flight, or stale entries: \`dlq list --scan\`)`,
            );
        }
        return 0;
      });
    },
  },
  {
    path: ['dlq', 'show'],
    summary: 'one parked message: its index record and envelope (path tokens masked)',
    args: '<id>',
    details:
      'The id is as `dlq list` prints it (<queue>/<id>); a bare index id, message key or DLQ message id also works.\n' +
      'The message is found in its DLQ by its `dlq-index-id` attribute: received, then let go again (never deleted).\n' +
      '--body prints the decoded body with phones, emails and tokens redacted; --raw prints the exact bytes\n' +
      '(and the path parameters) unredacted.',
    options: {
      ...TARGET_OPTIONS,
      body: { type: 'boolean', description: 'print the body (decoded; phones, emails and tokens redacted)' },
      raw: { type: 'boolean', description: 'with --body: the exact bytes, unredacted (prints a warning)' },
      json: { type: 'boolean', description: 'one JSON object' },
    },
    positionals: { min: 1, max: 1 },
    async run({ io, values, positionals }) {
      const raw = values.raw === true;
      const withBody = values.body === true || raw;
      if (raw)
        io.err('warning: --raw prints the body and path parameters unredacted (phones, emails, tokens): keep it out of tickets and chats');
      return withTarget(values, io, async (t) => {
        const res = await showParked(t.deps, positionals[0] ?? '');
        const { item, message } = res;
        const e = item.entry;
        const env = message?.envelope;
        const summary = env ? summarizeEnvelope(env, { raw }) : undefined;
        const body = env && withBody ? renderBody(env, { raw }) : undefined;
        if (values.json) {
          io.out(
            JSON.stringify({
              id: item.ref,
              queue: item.queueId,
              route: item.route,
              reason: item.reason,
              index: e ?? null,
              message: message
                ? {
                    messageId: message.messageId,
                    sentToDlqAt: message.sentAt === undefined ? null : new Date(message.sentAt).toISOString(),
                    dlqReceiveCount: message.dlqReceiveCount,
                    attributes: message.attrs,
                    envelope: summary ?? null,
                    notAnEnvelope: message.envelopeError ?? null,
                    ...(body ? { body: body.lines.join('\n'), bodyRedacted: body.redacted } : {}),
                  }
                : null,
            }),
          );
          return message ? 0 : 1;
        }
        const rows: Array<[string, string]> = [
          ['id', item.ref],
          ['queue', item.queueId],
          ['route', item.route],
          ['reason', item.reason],
        ];
        if (e) {
          rows.push(
            ['attempts', String(e.attempts)],
            ['first seen', e.firstSeenAt],
            ['last seen', e.lastSeenAt],
            ['request id', e.requestId || '-'],
            ['message key', e.messageKey],
            ['last error', e.lastError || '-'],
            ['expires', iso(e.expiresAt * 1000)],
          );
        } else {
          rows.push(['index', 'no entry (unindexed: moved to the DLQ by SQS, or its index write failed)']);
        }
        const w = Math.max(...rows.map(([k]) => k.length)) + 1;
        for (const [k, v] of rows) io.out(`${`${k}:`.padEnd(w)} ${v}`);
        if (!message) {
          const h = res.heldElsewhere;
          io.out(
            !('heldElsewhere' in res)
              ? `message: not in the DLQ of "${item.queueId}" (already replayed or purged, or expired): \`dlq purge\` removes the entry`
              : h === undefined
                ? `message: not found in the DLQ of "${item.queueId}" (held by another reader right now, already replayed, or expired)`
                : `message: not found in the DLQ of "${item.queueId}": ${h} of its messages are held by another reader right now (a concurrent show, list --scan, replay or purge) — it may be one of them; try again once they are let go`,
          );
          return 1;
        }
        io.out(
          `message: in the DLQ since ${iso(message.sentAt)} (message id ${message.messageId}, received ${message.dlqReceiveCount}× from the DLQ)`,
        );
        if (message.attrs.reason && message.attrs.reason !== item.reason) io.out(`  parked with reason: ${message.attrs.reason}`);
        if (!env || !summary) {
          io.out(`  not an envelope: ${message.envelopeError ?? '?'}`);
          if (withBody) for (const l of raw ? [message.body] : ['(--raw prints the message body)']) io.out(l);
          return 0;
        }
        const kv = (m: Record<string, string>) =>
          Object.entries(m)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ') || '-';
        const erows: Array<[string, string]> = [
          ['route', summary.route],
          ['params', kv(summary.params)],
          ['query', kv(summary.query)],
          ['received at', summary.receivedAt],
          ['request id', summary.requestId],
          ['source ip', summary.sourceIp],
          ['attempt', String(summary.attempt)],
          ['deferrals', String(summary.deferrals)],
          ['last error', summary.lastError ?? '-'],
          [
            'body',
            `${summary.bodyBytes} bytes${summary.contentType ? ` (${summary.contentType})` : ''}${withBody ? '' : '; --body prints it (redacted)'}`,
          ],
        ];
        io.out('envelope:');
        const ew = Math.max(...erows.map(([k]) => k.length)) + 1;
        for (const [k, v] of erows) io.out(`  ${`${k}:`.padEnd(ew)} ${v}`);
        io.out('  headers:');
        for (const [k, v] of Object.entries(summary.headers)) io.out(`    ${k}: ${v}`);
        if (body) {
          io.out(raw ? '--- body (raw, unredacted) ---' : `--- body (${body.kind}, redacted) ---`);
          for (const l of body.lines) io.out(l);
          io.out('--- end of body ---');
        }
        return 0;
      });
    },
  },
  {
    path: ['dlq', 'replay'],
    summary: 'put parked messages back on their main queue (attempt counter reset)',
    details:
      'Receives from the DLQs, filters, sends each envelope back to its main queue with `attempt` removed (a fresh\n' +
      'set of tries; `lastError` is kept as history), deletes it from the DLQ only once the send succeeded, then\n' +
      'removes its index entry. A message whose send fails stays in the DLQ; the summary says what is where.\n' +
      'Unindexed messages (reason `unindexed`) are replayed too. Exit code 1 when anything failed.',
    options: { ...TARGET_OPTIONS, ...FILTER_OPTIONS, ...RUN_OPTIONS },
    async run({ io, values }) {
      const dryRun = values['dry-run'] === true;
      const limit = flagLimit(values.limit);
      const mode = progressMode(values, io);
      const ids = flagIds(values);
      return withTarget(values, io, async (t) => {
        io.err(`${dryRun ? 'dry run: ' : ''}replaying from ${t.label}`);
        const report = await runWithProgress(
          io,
          mode,
          'replay',
          (o) =>
            replayParked(t.deps, {
              ...selection(values, ids),
              ...(limit !== undefined ? { limit } : {}),
              dryRun,
              ...o,
            }),
          dryRun,
        );
        printSummary(io, report, limit);
        return report.failed.length ? 1 : 0;
      });
    },
  },
  {
    path: ['dlq', 'purge'],
    summary: 'delete parked messages and their index entries for good (needs --yes)',
    details:
      'Receives from the DLQs, filters, deletes each matching message and its index entry. Index entries whose\n' +
      'message is no longer in the DLQ (and that match the filter) are removed too. --older-than uses the time\n' +
      'of parking. Without --yes nothing happens (use --dry-run to see what would go).',
    options: {
      ...TARGET_OPTIONS,
      ...FILTER_OPTIONS,
      'older-than': { type: 'string', valueName: 'duration', description: 'only messages parked longer ago than this (e.g. 7d, 12h)' },
      ...RUN_OPTIONS,
      yes: { type: 'boolean', description: 'really delete' },
    },
    async run({ io, values }) {
      const dryRun = values['dry-run'] === true;
      if (!dryRun && values.yes !== true)
        throw new CliError('purge deletes parked messages for good: add --yes (or --dry-run to see what would be deleted)', 2);
      const limit = flagLimit(values.limit);
      const olderThan = flagDuration('older-than', values['older-than']);
      const mode = progressMode(values, io);
      const ids = flagIds(values);
      return withTarget(values, io, async (t) => {
        const now = (t.deps.now ?? Date.now)();
        io.err(`${dryRun ? 'dry run: ' : ''}purging from ${t.label}`);
        const report = await runWithProgress(
          io,
          mode,
          'purge',
          (o) =>
            purgeParked(t.deps, {
              ...selection(values, ids),
              ...(olderThan !== undefined ? { before: now - olderThan } : {}),
              ...(limit !== undefined ? { limit } : {}),
              dryRun,
              ...o,
            }),
          dryRun,
        );
        printSummary(io, report, limit);
        return report.failed.length ? 1 : 0;
      });
    },
  },
];
