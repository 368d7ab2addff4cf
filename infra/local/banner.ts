/** What `npm start` prints once ready: every route URL, the health URL, a sample curl, the amoCRM side. */
import { relative } from 'node:path';
import { DEMO_MOVE, SANDBOX_ACCOUNT, SANDBOX_AMO_ACCOUNT_ID, SANDBOX_SECRETS, SANDBOX_SUBDOMAIN, type LocalAmo } from './amocrm.ts';
import { HEALTH_PATH } from './http.ts';
import { LOCAL_CHAT_SECRETS, LOCAL_MESSENGER } from './chat.ts';
import type { LocalRunner } from './runner.ts';
import type { Route, RouteTable } from '../../lib/routes.ts';

/** The hook URL as printed: the token masked (it is a secret; the banner ends up in terminals and logs). */
export function maskedHookUrl(url: string): string {
  return `${url}/hooks/amocrm/••••••`;
}

const rel = (p: string): string => relative(process.cwd(), p) || p;

/** The amoCRM lines: which amoCRM, connection, webhooks, how to move a deal and watch the event. */
export function describeAmo(
  runner: Pick<LocalRunner, 'url' | 'ddbEndpoint' | 'tableName'>,
  amo: LocalAmo,
  states: Record<string, string>,
): string[] {
  const lines: string[] = [''];
  const sb = amo.sandbox;
  if (sb) {
    lines.push(
      `  amoCRM    sandbox ${sb.url} (account "${SANDBOX_SUBDOMAIN}", id ${SANDBOX_AMO_ACCOUNT_ID}; our account id "${SANDBOX_ACCOUNT}") — ${states[SANDBOX_ACCOUNT] ?? 'unknown'}`,
    );
    lines.push(`  webhooks  the sandbox posts lead/contact/company/task events to POST ${maskedHookUrl(runner.url)}`);
    lines.push(`  events    ${'one line per published event (`event amocrm.lead.status …`); --quiet-events hides them'}`);
    if (amo.files)
      lines.push(`  files     ${rel(amo.files.config)} (generated config), ${rel(amo.files.secrets)} (client secret, hook token)`);
    lines.push('', '  move a deal as a manager would, then watch the `event amocrm.lead.status` line:');
    lines.push(`    curl -sS -X POST ${sb.url}/_sandbox/leads/${DEMO_MOVE.leadId}/move -d '{"status_id":${DEMO_MOVE.statusId}}'`);
    lines.push(`    (again with another stage: 50011, 50012, 50013; deliveries: curl -sS ${sb.url}/_sandbox/webhooks/deliveries)`);
    if (amo.files) {
      const token = `$(node -p 'require("./${rel(amo.files.secrets)}")["${SANDBOX_SECRETS.hookToken}"]')`;
      lines.push('  post a webhook yourself (the token is read from the secrets file, never printed):');
      lines.push(
        `    curl -sS -X POST "${runner.url}/hooks/amocrm/${token}" -H 'content-type: application/x-www-form-urlencoded' --data 'leads[status][0][id]=${DEMO_MOVE.leadId}&leads[status][0][status_id]=50013&leads[status][0][pipeline_id]=5001&leads[status][0][old_status_id]=${DEMO_MOVE.statusId}&account[subdomain]=${SANDBOX_SUBDOMAIN}&account[id]=${SANDBOX_AMO_ACCOUNT_ID}'`,
      );
      if (amo.config.chat?.messengers.some((m) => m.id === LOCAL_MESSENGER)) {
        // The chat channel (infra/local/chat.ts): the API key is read from the secrets file, never printed.
        const key = `$(node -p 'require("./${rel(amo.files.secrets)}")["${LOCAL_CHAT_SECRETS.apiKey}"]')`;
        lines.push("  chat      your messenger's side (lib/amojo/README.md); replies land in the sandbox's demo messenger:");
        lines.push(
          `    curl -sS -X POST ${runner.url}/chat/${LOCAL_MESSENGER}/messages -H 'content-type: application/json' -H "x-api-key: ${key}" --data '{"id":"m1","conversation_id":"c1","sender":{"id":"u1","name":"Anna"},"message":{"type":"text","text":"Hi"}}'`,
        );
        lines.push(`    (relayed replies: curl -sS ${sb.url}/_sandbox/amojo/messenger; chats: curl -sS ${sb.url}/_sandbox/amojo/state)`);
      }
      lines.push(
        `  tokens    npm run cli -- token status --config ${rel(amo.files.config)} --endpoint ${runner.ddbEndpoint} --table ${runner.tableName}`,
      );
    } else {
      lines.push(
        `  (--memory: the hook token is random per run; the sandbox shows the destination: curl -sS ${sb.url}/_sandbox/webhooks/subscriptions)`,
      );
    }
  } else {
    lines.push(
      `  amoCRM    real account(s) from the config: ${
        Object.entries(states)
          .map(([a, s]) => `${a} ${s}`)
          .join(', ') || '(none configured)'
      }`,
    );
    lines.push(`  webhooks  set each account's webhook to <public URL of this runner>/hooks/amocrm/<its hookToken secret>`);
    lines.push(`  connect   npm run cli -- auth link --account <id> --endpoint ${runner.ddbEndpoint} --table ${runner.tableName}`);
    lines.push(`  events    one line per published event; --quiet-events hides them`);
  }
  return lines;
}

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

export function describeRunner(runner: LocalRunner, amoStates: Record<string, string> = {}): string {
  const table: RouteTable = runner.table;
  const lines: string[] = [];
  const width = Math.max(...table.routes.map((r) => r.path.length + r.method.length), 10) + runner.url.length + 2;
  lines.push('', `amo-gateway local runner on ${runner.url}`, '');
  lines.push(`  console   ${runner.consoleUrl}   (queues, parked messages with replay/purge, tokens, events; loopback only)`);
  lines.push(`  health    GET ${runner.url}${HEALTH_PATH}`);
  lines.push('  routes');
  for (const r of table.routes) {
    const target = r.target.kind === 'queue' ? `queue ${r.target.queue}` : `function ${r.target.function}`;
    lines.push(`    ${`${r.method} ${runner.url}${r.path}`.padEnd(width)}  → ${target} (${r.id})`);
  }
  lines.push(
    `  queues    fauxqs ${runner.sqsEndpoint} (in process): ${Object.values(runner.queues)
      .map((q) => q.name)
      .join(', ')} + their -dlq`,
  );
  const store = runner.dataDir
    ? `data in ${relative(process.cwd(), runner.dataDir) || '.'}/ (dynamodb/, sqs-journal.log: every queued message on disk before it is acknowledged)`
    : 'in memory (--memory): nothing is kept';
  lines.push(`  dynamodb  dynalite ${runner.ddbEndpoint}, table ${runner.tableName}, ${store}`);
  for (const s of table.schedules) lines.push(`  schedule  ${s.id} → ${s.function} every ${s.rateMinutes} min`);
  const restored = Object.entries(runner.restored);
  if (restored.length) lines.push(`  restored  ${restored.map(([q, n]) => `${n} in ${q}`).join(', ')}`);
  // A queue route without a secret path token (the sample must not need one).
  const sample = table.routes.find((r) => r.target.kind === 'queue' && !r.path.includes('{token}')) ?? table.routes[0];
  if (sample) lines.push('', '  try', `    ${sampleCurl(runner.url, sample)}`, `    curl -sS ${runner.url}${HEALTH_PATH}`);
  // A site form of the config (npm start's demo form `contact`): a post becomes a contact + lead in the sandbox.
  const form = runner.amo?.config.forms?.list[0];
  if (sample && form)
    lines.push(
      `    curl -sS -X POST '${runner.url}/forms/${form.id}' --data-urlencode 'name=Анна' --data-urlencode 'phone=8 (916) 123-45-67' --data-urlencode 'comment=Перезвоните'   # site form → contact + lead`,
    );
  if (runner.amo) lines.push(...describeAmo(runner, runner.amo, amoStates));
  lines.push(
    '',
    runner.dataDir
      ? '  Ctrl-C stops: requests stop, batches in flight finish; queued messages (journaled) are re-queued next start, even after a crash.'
      : '  Ctrl-C stops: requests stop, batches in flight finish; memory mode: queued messages are dropped.',
    '',
  );
  return lines.join('\n');
}
