/** What `npm start` prints once ready: every route URL, the health URL, a sample curl. */
import { relative } from 'node:path';
import { HEALTH_PATH } from './http.ts';
import type { LocalRunner } from './runner.ts';
import type { Route, RouteTable } from '../routes.ts';

function sampleBody(contentType: string | undefined): string {
  if (contentType === 'application/x-www-form-urlencoded') return 'leads[status][0][id]=1';
  if (contentType === 'application/json') return '[]';
  return '';
}

function samplePath(r: Route): string {
  return r.path.replace(/\{([^}]+)\}/g, (_m, name: string) => `example-${name.replace(/_/g, '-')}`);
}

export function sampleCurl(url: string, r: Route): string {
  const ct = r.contentTypes[0];
  const parts = [`curl -sS -X ${r.method} '${url}${samplePath(r)}'`];
  if (ct) parts.push(`-H 'content-type: ${ct}'`, `--data '${sampleBody(ct)}'`);
  return parts.join(' ');
}

export function describeRunner(runner: LocalRunner): string {
  const table: RouteTable = runner.table;
  const lines: string[] = [];
  const width = Math.max(...table.routes.map((r) => r.path.length + r.method.length), 10) + runner.url.length + 2;
  lines.push('', `amo-gateway local runner on ${runner.url}`, '');
  lines.push(`  health    GET ${runner.url}${HEALTH_PATH}`);
  lines.push('  routes');
  for (const r of table.routes) {
    const target = r.target.kind === 'queue' ? `queue ${r.target.queue}` : `function ${r.target.function}`;
    lines.push(`    ${`${r.method} ${runner.url}${r.path}`.padEnd(width)}  → ${target} (${r.id})`);
  }
  lines.push(`  queues    fauxqs ${runner.sqsEndpoint} (in process): ${Object.values(runner.queues).map((q) => q.name).join(', ')} + their -dlq`);
  const store = runner.dataDir ? `data in ${relative(process.cwd(), runner.dataDir) || '.'}/ (dynamodb/, queues.json on stop)` : 'in memory (--memory): nothing is kept';
  lines.push(`  dynamodb  dynalite ${runner.ddbEndpoint}, table ${runner.tableName}, ${store}`);
  for (const s of table.schedules) lines.push(`  schedule  ${s.id} → ${s.function} every ${s.rateMinutes} min`);
  const restored = Object.entries(runner.restored);
  if (restored.length) lines.push(`  restored  ${restored.map(([q, n]) => `${n} in ${q}`).join(', ')}`);
  const sample = table.routes.find((r) => r.target.kind === 'queue' && !r.path.includes('{')) ?? table.routes[0];
  if (sample) lines.push('', '  try', `    ${sampleCurl(runner.url, sample)}`, `    curl -sS ${runner.url}${HEALTH_PATH}`);
  lines.push('', '  Ctrl-C stops: requests stop, batches in flight finish, queued messages are saved and re-queued next start.', '');
  return lines.join('\n');
}
