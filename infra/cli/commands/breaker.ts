/**
 * `breaker status | lift`: the account-wide 403 stop switch (lib/store/breaker.ts). amoCRM answers
 * 403 when it has blocked an account (usually after repeated 429s); the first instance that sees
 * it opens the breaker in DynamoDB, every instance stops calling the account within a second, the
 * `AccountBlocked` alarm fires and messages are deferred, not lost. Only amoCRM support lifts the
 * block; then the operator lifts the breaker here. It never closes by itself (no TTL).
 */
import type { BreakerState } from '../../../lib/amocrm/client/breaker-store.ts';
import { CliError, type Command, type OptionValues } from '../command.ts';
import { TARGET_OPTIONS } from '../target.ts';
import { accountOf, openAmo } from './schema.ts';
import { iso, table } from '../format.ts';

export interface BreakerRow extends BreakerState {
  account: string;
  host: string;
}

const LIFT_ADVICE =
  'Lift it only once amoCRM support has unblocked the account: while amoCRM still blocks it, the next call opens the breaker again (and the AccountBlocked alarm fires again).';

function who(values: OptionValues, env: Record<string, string | undefined>): string {
  const by = values.by;
  if (typeof by === 'string' && by.trim() !== '') return by.trim();
  return `cli:${env.USER ?? env.USERNAME ?? 'unknown'}`;
}

export const breakerCommands: Command[] = [
  {
    path: ['breaker', 'status'],
    summary: "each account's 403 breaker: open (amoCRM blocked it) or closed, since when, why",
    details:
      "One breaker per account host, shared by every instance (it lives on the host's rate-budget item).\n" +
      'Open: amoCRM answered 403, nothing is sent to the account, its messages are deferred (15 min at a\n' +
      'time, not lost). Exit code 1 when any breaker is open.',
    options: {
      ...TARGET_OPTIONS,
      account: { type: 'string', valueName: 'id', description: 'only this account' },
      json: { type: 'boolean', description: 'JSON lines instead of a table' },
    },
    async run({ io, values }) {
      const s = await openAmo(values, io, { mode: 'await' });
      try {
        const accounts = typeof values.account === 'string' ? [accountOf(s, values.account)] : s.config.accounts.map((a) => a.id);
        const rows: BreakerRow[] = [];
        for (const account of accounts) rows.push({ account, ...(await s.runtime.breakerStatus(account)) });
        if (values.json) {
          for (const r of rows) io.out(JSON.stringify(r));
        } else {
          const lines = table([
            ['ACCOUNT', 'HOST', 'BREAKER', 'OPENED', 'REASON', 'LAST LIFTED'],
            ...rows.map((r) => [
              r.account,
              r.host,
              r.open ? 'open' : 'closed',
              r.open ? iso(r.openedAt) : '-',
              r.open ? (r.reason ?? '-') : '-',
              r.liftedAt === undefined ? '-' : `${iso(r.liftedAt)} by ${r.liftedBy ?? '?'}`,
            ]),
          ]);
          for (const l of lines) io.out(l);
          for (const r of rows.filter((x) => x.open)) {
            io.out(
              `${r.account}: blocked by amoCRM (403) since ${iso(r.openedAt)}; nothing is sent, messages are deferred. Ask amoCRM support to unblock the account, then \`amo-gateway breaker lift --account ${r.account} --yes\`.`,
            );
          }
        }
        return rows.some((r) => r.open) ? 1 : 0;
      } finally {
        s.close();
      }
    },
  },
  {
    path: ['breaker', 'lift'],
    summary: "close an account's 403 breaker after amoCRM support has unblocked the account",
    details:
      'What an operator does once amoCRM support confirms the account is unblocked: every instance calls\n' +
      'amoCRM again within a second; deferred messages come back within 15 minutes. Lifting while amoCRM\n' +
      'still blocks the account only lets the next call open the breaker again (and the AccountBlocked\n' +
      'alarm fires again). Nothing happens without --yes (exit 2).',
    options: {
      ...TARGET_OPTIONS,
      account: { type: 'string', valueName: 'id', description: 'the account (required)' },
      yes: { type: 'boolean', description: 'really lift it' },
      by: { type: 'string', valueName: 'name', description: 'who lifts it, kept on the breaker (default cli:$USER)' },
    },
    async run({ io, values }) {
      if (typeof values.account !== 'string' || values.account === '')
        throw new CliError('--account is required: lifting a breaker names the account explicitly', 2);
      const s = await openAmo(values, io, { mode: 'await' });
      try {
        const account = accountOf(s, values.account);
        const st = await s.runtime.breakerStatus(account);
        if (!st.open) {
          io.out(`${account} (${st.host}): the breaker is not open; nothing to lift`);
          return 0;
        }
        if (values.yes !== true) {
          io.err(`${account} (${st.host}): breaker open since ${iso(st.openedAt)} — ${st.reason ?? 'no reason recorded'}`);
          io.err(`${LIFT_ADVICE} Pass --yes to lift it.`);
          return 2;
        }
        await s.runtime.liftBreaker(account, who(values, io.env));
        io.out(
          `${account} (${st.host}): breaker lifted; every instance calls amoCRM again within a second, deferred messages come back within 15 minutes`,
        );
        return 0;
      } finally {
        s.close();
      }
    },
  },
];
