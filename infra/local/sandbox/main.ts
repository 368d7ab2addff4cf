/**
 * `npm run sandbox [-- --port 8090]` (or PORT=8090): the sandbox on its own, with a demo account.
 * Prints the URL, a ready authorize link and the admin endpoints. Ctrl-C stops it.
 * Flags: --port, --host, --redirect-uri (SANDBOX_REDIRECT_URI), --webhook <url> (SANDBOX_WEBHOOK_URL), --quiet,
 * --accounts N (SANDBOX_ACCOUNTS): N demo accounts, the 2nd on port+1 (`demo2`), the 3rd on port+2 …
 */
import { ADMIN_ENDPOINTS } from './admin.ts';
import { DEMO_INTEGRATION, demoSeed } from './demo.ts';
import { startSandbox } from './index.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const port = Number(arg('port') ?? process.env.PORT ?? 8090);
const host = arg('host') ?? process.env.HOST ?? '127.0.0.1';
const redirectUri = arg('redirect-uri') ?? process.env.SANDBOX_REDIRECT_URI ?? DEMO_INTEGRATION.redirectUri;
const quiet = process.argv.includes('--quiet');
const accounts = Math.max(1, Number(arg('accounts') ?? process.env.SANDBOX_ACCOUNTS ?? 1) || 1);

const sb = await startSandbox({
  port,
  host,
  seed: Number(process.env.SANDBOX_SEED ?? 1),
  account: { id: 31_000_001, subdomain: 'demo', name: 'Demo clinic' },
  extraAccounts: Array.from({ length: accounts - 1 }, (_, i) => ({
    id: 31_000_002 + i,
    subdomain: `demo${i + 2}`,
    name: `Demo clinic ${i + 2}`,
    port: port === 0 ? 0 : port + i + 1,
  })),
  integrations: [{ ...DEMO_INTEGRATION, redirectUri }],
  amojo: {
    channels: [
      {
        id: 'demo-channel-0000-0000-0000-000000000001',
        secret: 'demo-channel-secret',
        title: 'Demo channel',
        webhookUrl: 'http://127.0.0.1:3000/chat/amojo/:scope_id',
        clientId: DEMO_INTEGRATION.clientId,
      },
    ],
  },
  log: quiet ? undefined : (line) => console.log(`[sandbox] ${line}`),
});
const webhook = arg('webhook') ?? process.env.SANDBOX_WEBHOOK_URL;
const seedOne = (admin: typeof sb.admin) =>
  admin.seed({
    ...demoSeed(),
    ...(webhook
      ? {
          webhooks: [
            {
              destination: webhook,
              settings: ['add_lead', 'update_lead', 'status_lead', 'responsible_lead', 'add_contact', 'update_contact'],
            },
          ],
        }
      : {}),
  });
const seeded = seedOne(sb.admin);
for (const a of sb.accounts.slice(1)) seedOne(a.admin);

console.log(`
amoCRM sandbox (account "demo", id 31000001) on ${sb.url}

  REST API        ${sb.url}/api/v4/...
  token endpoint  POST ${sb.url}/oauth2/access_token
  authorize link  ${sb.url}/oauth?client_id=${DEMO_INTEGRATION.clientId}&state=demo&mode=post_message
                  (redirects to ${redirectUri} with code, state, referer=${sb.accountHost}, client_id)
  client_id       ${DEMO_INTEGRATION.clientId}
  client_secret   ${DEMO_INTEGRATION.clientSecret}
  a token for curl (long-lived, no refresh; printed by the call, not logged here):
    curl -X POST ${sb.url}/_sandbox/tokens/long-lived -d '{"ttl_seconds":2592000}'

  seeded: ${seeded.leads.length} leads, ${seeded.users.length} users, pipelines ${seeded.pipelines.map((p) => `${p.id} "${p.name}"`).join(', ')}

  try:
    curl -H "Authorization: Bearer <token>" "${sb.url}/api/v4/leads?with=contacts"
    curl -X POST ${sb.url}/_sandbox/leads/8001/move -d '{"status_id":50012}'   # a manager moves a deal → status_lead webhook
    ${webhook ? `webhooks go to ${webhook}` : 'start with --webhook <url> (or SANDBOX_WEBHOOK_URL) to subscribe a destination to lead/contact events'}
    curl ${sb.url}/_sandbox/webhooks/deliveries

${sb.accounts
  .slice(1)
  .map((a) => `  account "${a.subdomain}" (id ${a.id}) on ${a.url} (same demo data; its own tokens, admin at ${a.url}/_sandbox)`)
  .join('\n')}
admin endpoints:
${ADMIN_ENDPOINTS.map((l) => `  ${l}`).join('\n')}
`);

const stop = async (): Promise<void> => {
  await sb.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
