/**
 * The console's HTML, server-rendered (no build step): one page of semantic tables with captions
 * and column headers, plain POST forms for the actions (each carries the per-run token), and a
 * confirmation page before a purge (the CLI's `--yes`). Everything from the state is escaped. The
 * sections are rendered separately so the page's script can swap the ones that changed
 * (infra/local/console/assets.ts); without JavaScript a meta refresh reloads the page.
 */
import type { ConsoleState, ParkedRow } from './state.ts';

export const CONSOLE_PATH = '/_console';

export function esc(v: unknown): string {
  return String(v ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function num(v: number | undefined, key?: string): string {
  return `<td class="n"${key ? ` data-k="${esc(key)}"` : ''}>${v === undefined ? '–' : esc(v)}</td>`;
}

function when(iso: string | undefined): string {
  return iso ? `<time datetime="${esc(iso)}">${esc(iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</time>` : '–';
}

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${esc(name)}" value="${esc(value)}">`;
}

function postForm(action: string, csrf: string, fields: Record<string, string>, label: string, ariaLabel: string, cls = ''): string {
  return (
    `<form method="post" action="${CONSOLE_PATH}/${action}" class="inline">${hidden('csrf', csrf)}` +
    Object.entries(fields)
      .map(([k, v]) => hidden(k, v))
      .join('') +
    `<button type="submit"${cls ? ` class="${cls}"` : ''} aria-label="${esc(ariaLabel)}">${esc(label)}</button></form>`
  );
}

function purgeLink(sel: { id?: string; queue?: string }, ariaLabel: string): string {
  const q = new URLSearchParams(sel as Record<string, string>).toString();
  return `<a class="button danger" href="${CONSOLE_PATH}/dlq/purge?${esc(q)}" aria-label="${esc(ariaLabel)}">Purge…</a>`;
}

function table(caption: string, head: string[], rows: string[], empty: string): string {
  if (rows.length === 0) return `<p class="empty">${esc(empty)}</p>`;
  return (
    `<table><caption>${esc(caption)}</caption><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

export type SectionId = 'queues' | 'parked' | 'routes' | 'tokens' | 'budget' | 'events' | 'sandbox';

export const SECTION_TITLES: Record<SectionId, string> = {
  queues: 'Queues',
  parked: 'Parked messages',
  routes: 'Routes',
  tokens: 'Accounts and tokens',
  budget: 'Rate budget',
  events: 'Last events',
  sandbox: 'Sandbox',
};

function queuesSection(s: ConsoleState, csrf: string): string {
  const rows = s.queues.map(
    (q) =>
      `<tr${q.dlq > 0 ? ' class="warn"' : ''}><th scope="row">${esc(q.id)}</th>${num(q.visible, `q.${q.id}.visible`)}${num(q.delayed, `q.${q.id}.delayed`)}${num(q.inFlight, `q.${q.id}.inFlight`)}${num(q.dlq, `q.${q.id}.dlq`)}<td>${
        q.dlq > 0
          ? postForm('dlq/replay', csrf, { queue: q.id }, 'Replay all', `Replay every parked message of queue ${q.id}`) +
            ' ' +
            purgeLink({ queue: q.id }, `Purge every parked message of queue ${q.id}`)
          : ''
      }</td></tr>`,
  );
  return table(
    'Messages per queue: waiting (visible), delayed, being processed (in flight), parked in its DLQ',
    ['Queue', 'Visible', 'Delayed', 'In flight', 'DLQ', 'Actions'],
    rows,
    'No queues.',
  );
}

function bodyView(p: ParkedRow): string {
  if (!p.inDlq)
    return '<p>The index has this entry but its DLQ no longer holds the message: nothing to replay; purge clears the entry.</p>';
  const sum = p.summary;
  const meta = sum
    ? `<dl class="meta">` +
      [
        ['Received', when(sum.receivedAt)],
        ['Request id', esc(sum.requestId)],
        ['Source IP', esc(sum.sourceIp)],
        [
          'Path parameters',
          esc(
            Object.entries(sum.params)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ') || '–',
          ),
        ],
        [
          'Query',
          esc(
            Object.entries(sum.query)
              .map(([k, v]) => `${k}=${v}`)
              .join('&') || '–',
          ),
        ],
        ['Content type', esc(sum.contentType ?? '–')],
        ['Body', `${esc(sum.bodyBytes)} bytes`],
        ['Attempt / deferrals', `${esc(sum.attempt)} / ${esc(sum.deferrals)}`],
      ]
        .map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`)
        .join('') +
      `</dl>`
    : '';
  const body = p.body ? `<pre class="body" aria-label="Body (redacted)">${esc(p.body.lines.join('\n'))}</pre>` : '';
  return `${meta}${body}<p class="note">Tokens, phones and e-mails are redacted; path tokens are masked.</p>`;
}

function parkedSection(s: ConsoleState, csrf: string): string {
  if (s.parked.length === 0) return '<p class="empty">Nothing is parked.</p>';
  const rows = s.parked.map(
    (p) =>
      `<tr data-ref="${esc(p.ref)}"><td>${when(p.parkedAt)}</td><td>${esc(p.queue)}</td><td>${esc(p.route)}</td><td><strong>${esc(p.reason)}</strong></td><td class="n">${esc(p.attempts ?? '–')}</td>` +
      `<td class="err">${esc(p.lastError ?? '')}</td>` +
      `<td><details data-ref="${esc(p.ref)}"><summary>Body <span class="sr">of ${esc(p.ref)}</span></summary>${bodyView(p)}<p class="ref">id <code>${esc(p.ref)}</code></p></details></td>` +
      `<td class="actions">${p.inDlq ? postForm('dlq/replay', csrf, { id: p.ref }, 'Replay', `Replay ${p.ref}`) : ''} ${purgeLink({ id: p.ref }, `Purge ${p.ref}`)}</td></tr>`,
  );
  return table(
    `${s.parked.length} parked message${s.parked.length === 1 ? '' : 's'}, oldest first (the CLI: dlq list)`,
    ['Parked at', 'Queue', 'Route', 'Reason', 'Attempts', 'Last error', 'Message', 'Actions'],
    rows,
    'Nothing is parked.',
  );
}

function routesSection(s: ConsoleState): string {
  return table(
    'Every route of the table (path tokens shown as {name}, never their value)',
    ['Route', 'Method', 'URL', 'Target'],
    s.routes.map(
      (r) =>
        `<tr><th scope="row">${esc(r.id)}</th><td>${esc(r.method)}</td><td><code>${esc(r.url)}</code></td><td>${esc(r.target)}</td></tr>`,
    ),
    'No routes.',
  );
}

function tokensSection(s: ConsoleState): string {
  if (!s.amoMode) return '<p class="empty">No amoCRM side in this run.</p>';
  return table(
    "Each account's OAuth state (the CLI: token status). Tokens are never shown.",
    ['Account', 'Host', 'Status', 'Access expires', 'Last refresh', 'Installed via'],
    s.tokens.map(
      (t) =>
        `<tr${t.status === 'active' ? '' : ' class="warn"'}><th scope="row">${esc(t.account)}</th><td>${esc(t.host)}</td><td><strong>${esc(t.status)}</strong>${t.statusReason && t.status !== 'active' ? ` — ${esc(t.statusReason)}` : ''}</td><td>${when(t.accessExpiresAt)}</td><td>${t.lastRefreshAt ? when(t.lastRefreshAt) : 'never'}</td><td>${esc(t.installedVia ?? '–')}</td></tr>`,
    ),
    'No accounts.',
  );
}

function budgetSection(s: ConsoleState): string {
  if (!s.amoMode) return '<p class="empty">No amoCRM side in this run.</p>';
  return table(
    'Calls to amoCRM granted by the shared rate budget in the last minute, 429 answers and budget deferrals since start, the 403 breaker (the CLI: breaker status)',
    ['Account', 'Host', 'Calls, last minute', '429s', 'Deferred (budget)', 'Breaker'],
    s.budget.map(
      (b) =>
        `<tr${b.breaker?.open ? ' class="warn"' : ''}><th scope="row">${esc(b.account)}</th><td>${esc(b.host)}</td><td class="n" data-k="b.${esc(b.account)}.calls">${
          b.callsLastMinute === undefined ? '–' : `${b.callsAtLeast ? '≥ ' : ''}${esc(b.callsLastMinute)}`
        }</td>${num(b.rateLimited, `b.${b.account}.429`)}${num(b.budgetDeferred)}<td>${
          b.error
            ? `unknown (${esc(b.error)})`
            : b.breaker?.open
              ? `<strong>open</strong> since ${when(new Date(b.breaker.openedAt ?? 0).toISOString())}: ${esc(b.breaker.reason ?? '')}`
              : 'closed'
        }</td></tr>`,
    ),
    'No accounts.',
  );
}

function eventsSection(s: ConsoleState): string {
  if (!s.amoMode) return '<p class="empty">No amoCRM side in this run.</p>';
  return table(
    `The last ${s.events.length} of ${s.eventsTotal} events published (newest first)`,
    ['Time', 'Event', 'Details'],
    s.events.map(
      (e) =>
        `<tr><td>${when(e.time)}</td><td><code>${esc(e.type)}</code></td><td>${esc(
          Object.entries(e.attributes)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' '),
        )}</td></tr>`,
    ),
    'No event published yet.',
  );
}

function sandboxSection(s: ConsoleState): string {
  const sb = s.sandbox;
  if (!sb) return '<p class="empty">The sandbox is not running (--no-sandbox).</p>';
  const totals = `<dl class="meta"><dt>URL</dt><dd><code>${esc(sb.url)}</code></dd><dt>API calls</dt><dd data-k="sb.requests">${esc(sb.requests)}</dd><dt>429 answers</dt><dd>${esc(sb.rateLimited)}</dd><dt>403 block answers</dt><dd>${esc(sb.blockedResponses)}</dd><dt>Blocks imposed</dt><dd>${esc(sb.blocksImposed)}</dd><dt>Webhooks delivered / failed</dt><dd>${esc(sb.webhooks.delivered)} / ${esc(sb.webhooks.failed)}</dd><dt>Token endpoint</dt><dd>${esc(
    Object.entries(sb.tokenEndpoint)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || '–',
  )}</dd></dl>`;
  return (
    totals +
    table(
      "The sandbox's counters: calls by method, path and status",
      ['Method', 'Path', 'Status', 'Calls'],
      sb.byRoute.map(
        (r) => `<tr><td>${esc(r.method)}</td><td><code>${esc(r.route)}</code></td><td>${esc(r.status)}</td>${num(r.count)}</tr>`,
      ),
      'No call yet.',
    )
  );
}

export function renderSections(s: ConsoleState, csrf: string): Record<SectionId, string> {
  return {
    queues: queuesSection(s, csrf),
    parked: parkedSection(s, csrf),
    routes: routesSection(s),
    tokens: tokensSection(s),
    budget: budgetSection(s),
    events: eventsSection(s),
    sandbox: sandboxSection(s),
  };
}

function page(title: string, main: string, opts: { refresh?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${esc(title)}</title>
<link rel="stylesheet" href="${CONSOLE_PATH}/console.css">
${opts.refresh ? `<noscript><meta http-equiv="refresh" content="5"></noscript>\n<script src="${CONSOLE_PATH}/console.js" defer></script>` : ''}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
${main}
</body>
</html>
`;
}

export function renderPage(s: ConsoleState, csrf: string, flash?: { ok: boolean; message: string }): string {
  const sections = renderSections(s, csrf);
  const order: SectionId[] = ['queues', 'parked', 'tokens', 'budget', 'events', 'routes', 'sandbox'];
  const nav = `<nav aria-label="Sections"><ul>${order.map((id) => `<li><a href="#${id}">${esc(SECTION_TITLES[id])}</a></li>`).join('')}</ul></nav>`;
  const parked = s.queues.reduce((n, q) => n + q.dlq, 0);
  const header =
    `<header><h1>amo-gateway — local console</h1>` +
    `<p>Runner <code>${esc(s.url)}</code> · <span data-k="parked.total">${esc(parked)}</span> parked · updated <span id="updated" data-k="generatedAt">${esc(s.generatedAt)}</span>` +
    ` · <a href="${CONSOLE_PATH}/state.json">JSON</a> · <a href="/health">health</a></p></header>`;
  const flashHtml = `<div id="flash" role="status" aria-live="polite">${
    flash ? `<p class="${flash.ok ? 'ok' : 'bad'}">${esc(flash.message)}</p>` : ''
  }</div>`;
  const body = order
    .map(
      (id) =>
        `<section aria-labelledby="h-${id}"><h2 id="h-${id}">${esc(SECTION_TITLES[id])}</h2><div id="${id}" data-section="${id}">${sections[id]}</div></section>`,
    )
    .join('\n');
  return page('amo-gateway console', `${header}${nav}<main id="main">${flashHtml}${body}</main>`, { refresh: true });
}

/** The purge confirmation (the CLI's `--yes`): what will be deleted, and one button. */
export function renderPurgeConfirm(sel: { id?: string; queue?: string }, rows: ParkedRow[], csrf: string): string {
  const what = sel.id ? `the parked message ${sel.id}` : `every parked message of queue ${sel.queue ?? '?'}`;
  const list = rows.length
    ? `<ul>${rows.map((r) => `<li><code>${esc(r.ref)}</code> — ${esc(r.route)}, ${esc(r.reason)}</li>`).join('')}</ul>`
    : '<p>None of them is in the DLQ now (the purge still removes matching index entries).</p>';
  const form =
    `<form method="post" action="${CONSOLE_PATH}/dlq/purge">${hidden('csrf', csrf)}${sel.id ? hidden('id', sel.id) : ''}${sel.queue ? hidden('queue', sel.queue) : ''}${hidden('yes', '1')}` +
    `<button type="submit" class="danger">Purge for good</button> <a href="${CONSOLE_PATH}#parked">Cancel</a></form>`;
  return page(
    'Purge parked messages — amo-gateway console',
    `<main id="main"><h1>Purge ${esc(what)}?</h1><p>Purging deletes the message from its DLQ and its index entry: it cannot be replayed afterwards (the CLI: <code>dlq purge --yes</code>).</p>${list}${form}</main>`,
  );
}

export function renderError(status: number, message: string): string {
  return page(
    `${status} — amo-gateway console`,
    `<main id="main"><h1>${esc(status)}</h1><p>${esc(message)}</p><p><a href="${CONSOLE_PATH}">Back to the console</a></p></main>`,
  );
}
