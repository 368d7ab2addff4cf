/**
 * The console's stylesheet and script, served from the runner (no build step, no inline script:
 * the page's Content-Security-Policy allows only these). The script polls `state.json` every
 * 2 s and swaps each section whose HTML changed — except one that holds the keyboard focus (it
 * waits for the next round), keeping open body views open. Without JavaScript the page reloads
 * itself every 5 s (a meta refresh inside <noscript>).
 */

export const CONSOLE_CSS = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --warn: #fff4d6; --bad: #a40e26; --ok: #116329; --accent: #0550ae; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fff; }
header, nav, main { padding: 0 1.25rem; }
header { border-bottom: 1px solid var(--line); background: #f6f8fa; padding-top: .5rem; padding-bottom: .25rem; }
h1 { font-size: 1.3rem; margin: .3rem 0; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1rem; padding: .5rem 0; margin: 0; }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: .5rem; top: .5rem; background: #fff; padding: .25rem .5rem; z-index: 1; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 1rem; }
caption { text-align: left; color: var(--muted); padding: .2rem 0; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.err { max-width: 28rem; overflow-wrap: anywhere; color: var(--muted); }
tr.warn > * { background: var(--warn); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre.body { background: #f6f8fa; border: 1px solid var(--line); padding: .5rem; max-height: 20rem; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: .4rem 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
.empty, .note { color: var(--muted); }
form.inline { display: inline; }
button, a.button { font: inherit; padding: .2rem .7rem; border: 1px solid #8c959f; border-radius: 4px; background: #f6f8fa; color: var(--fg); cursor: pointer; text-decoration: none; display: inline-block; }
button:hover, a.button:hover { background: #eaeef2; }
button.danger, a.button.danger { color: var(--bad); border-color: var(--bad); }
:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
#flash p { padding: .5rem .75rem; border-radius: 4px; margin: .75rem 0 0; }
#flash p.ok { background: #dafbe1; color: var(--ok); }
#flash p.bad { background: #ffebe9; color: var(--bad); }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
td.actions { white-space: nowrap; }
`;

export const CONSOLE_JS = `
(function () {
  'use strict';
  var EVERY_MS = 2000;
  var last = {};
  document.querySelectorAll('[data-section]').forEach(function (el) { last[el.id] = el.innerHTML; });
  function swap(id, html) {
    var el = document.getElementById(id);
    if (!el || last[id] === html) return;
    if (el.contains(document.activeElement) && document.activeElement !== document.body) return; // keep keyboard focus: next round
    var open = {};
    el.querySelectorAll('details[open][data-ref]').forEach(function (d) { open[d.getAttribute('data-ref')] = true; });
    el.innerHTML = html;
    el.querySelectorAll('details[data-ref]').forEach(function (d) { if (open[d.getAttribute('data-ref')]) d.open = true; });
    last[id] = html;
  }
  function tick() {
    fetch('${'/_console'}/state.json?sections=1', { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error('HTTP ' + r.status)); })
      .then(function (j) {
        Object.keys(j.sections || {}).forEach(function (id) { swap(id, j.sections[id]); });
        var u = document.getElementById('updated');
        if (u) u.textContent = j.state.generatedAt;
        var total = document.querySelector('[data-k="parked.total"]');
        if (total) total.textContent = String(j.state.queues.reduce(function (n, q) { return n + q.dlq; }, 0));
        document.documentElement.removeAttribute('data-stale');
      })
      .catch(function () { document.documentElement.setAttribute('data-stale', 'true'); })
      .then(function () { setTimeout(tick, EVERY_MS); });
  }
  setTimeout(tick, EVERY_MS);
})();
`;
