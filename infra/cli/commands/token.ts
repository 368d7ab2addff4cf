/** `token status | refresh`: what the operator looks at when an account stops working. Never prints a token. */
import { halfLifeAt, isOAuthError } from '../../../lib/amocrm/oauth/index.ts';
import type { TokenRecord } from '../../../lib/amocrm/oauth/token-store.ts';
import { CliError, type Command } from '../command.ts';
import { openSystem, pickAccount } from '../system.ts';
import { TARGET_OPTIONS } from '../target.ts';
import { iso, table } from '../format.ts';

function relative(ms: number, now: number): string {
  const d = ms - now;
  const abs = Math.abs(d);
  const h = Math.floor(abs / 3600_000);
  const m = Math.floor((abs % 3600_000) / 60_000);
  const span = h >= 48 ? `${Math.floor(h / 24)}d` : h > 0 ? `${h}h${m}m` : `${m}m`;
  return d >= 0 ? `in ${span}` : `${span} ago`;
}

export interface StatusRow {
  account: string;
  integration: string;
  host: string;
  kind: string;
  status: string;
  statusReason?: string;
  accessExpiresAt?: string;
  halfLifeAt?: string;
  lastRefreshAt?: string;
  installedVia?: string;
  installedAt?: string;
  version?: number;
  /** The previous pair is still kept (the new one not yet seen working). */
  previousKept: boolean;
}

/** One account's `token status` row (also the console's): never a token. */
export function tokenStatusRow(account: string, integration: string, host: string, rec: TokenRecord | undefined): StatusRow {
  if (!rec) return { account, integration, host, kind: '-', status: 'not-connected', previousKept: false };
  return {
    account,
    integration,
    host: rec.host,
    kind: rec.kind,
    status: rec.status,
    ...(rec.statusReason ? { statusReason: rec.statusReason } : {}),
    ...(rec.current
      ? { accessExpiresAt: iso(rec.current.accessExpiresAt), halfLifeAt: rec.kind === 'oauth' ? iso(halfLifeAt(rec.current)) : '-' }
      : {}),
    ...(rec.lastRefreshAt !== undefined ? { lastRefreshAt: iso(rec.lastRefreshAt) } : {}),
    ...(rec.installedVia ? { installedVia: rec.installedVia } : {}),
    installedAt: iso(rec.installedAt),
    version: rec.version,
    previousKept: rec.previous !== undefined,
  };
}

export const tokenCommands: Command[] = [
  {
    path: ['token', 'status'],
    summary: "each account's token state, expiry and last refresh (never the tokens)",
    details:
      'Status: active | needs-reauth (run `auth link` and open it as an account admin) | disconnected\n(the integration was removed in amoCRM; install it again) | not-connected (never installed).',
    options: {
      ...TARGET_OPTIONS,
      account: { type: 'string', valueName: 'id', description: 'only this account' },
      json: { type: 'boolean', description: 'JSON lines instead of a table' },
    },
    async run({ io, values }) {
      const s = await openSystem(values, io);
      try {
        const wanted = typeof values.account === 'string' ? [s.oauth.lifecycle.resolve(values.account).account] : s.config.accounts;
        const now = s.oauth.lifecycle.clock.now();
        const rows: StatusRow[] = [];
        for (const a of wanted) {
          const r = s.oauth.lifecycle.resolve(a.id);
          rows.push(tokenStatusRow(a.id, r.integration.id, `${a.subdomain}.${a.domain}`, await s.oauth.lifecycle.read(a.id)));
        }
        if (values.json) {
          for (const r of rows) io.out(JSON.stringify(r));
        } else {
          const lines = table([
            ['ACCOUNT', 'HOST', 'KIND', 'STATUS', 'ACCESS EXPIRES', 'LAST REFRESH', 'VIA', 'VERSION'],
            ...rows.map((r) => [
              r.account,
              r.host,
              r.kind,
              r.status,
              r.accessExpiresAt ? `${r.accessExpiresAt} (${relative(Date.parse(r.accessExpiresAt), now)})` : '-',
              r.lastRefreshAt ?? 'never',
              r.installedVia ?? '-',
              r.version === undefined ? '-' : String(r.version),
            ]),
          ]);
          for (const l of lines) io.out(l);
          for (const r of rows) if (r.statusReason && r.status !== 'active') io.out(`${r.account}: ${r.status} — ${r.statusReason}`);
        }
        return rows.every((r) => r.status === 'active') ? 0 : 1;
      } finally {
        s.close();
      }
    },
  },
  {
    path: ['token', 'refresh'],
    summary: 'refresh now: one account (--account), or every account past half-life',
    details:
      'With --account: refreshes that account now, under the same lease as the schedule (safe while the\n' +
      'gateway runs); an account marked needs-reauth is retried if it still has a refresh token (e.g. after\n' +
      'fixing a wrong client secret). Without: what the schedule does, once.',
    options: { ...TARGET_OPTIONS, account: { type: 'string', valueName: 'id', description: 'the account to refresh now' } },
    async run({ io, values }) {
      const s = await openSystem(values, io);
      try {
        if (typeof values.account === 'string') {
          const account = pickAccount(s.config, values.account);
          try {
            const res = await s.oauth.lifecycle.refreshNow(account);
            io.out(
              `${account}: ${res.refreshed ? 'refreshed' : 'already refreshed by someone else'}; access token valid until ${iso(res.record.current?.accessExpiresAt)}`,
            );
            return 0;
          } catch (e) {
            if (isOAuthError(e)) throw new CliError(`${account}: ${e.message}`, 1, { cause: e });
            throw e;
          }
        }
        const results = await s.oauth.lifecycle.refreshDue();
        for (const r of results) io.out(`${r.account}: ${r.outcome}${r.error ? ` — ${r.error}` : ''}`);
        return results.some((r) => r.outcome === 'failed' || r.outcome === 'busy' || r.outcome === 'needs-reauth') ? 1 : 0;
      } finally {
        s.close();
      }
    },
  },
];
