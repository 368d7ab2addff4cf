/** `auth link | exchange-code | long-lived`: the three ways an account gets a token (lib/amocrm/oauth/README.md). */
import { OAuthRequestError } from '../../../lib/amocrm/oauth/index.ts';
import { CliError, type Command } from '../command.ts';
import { openSystem, pickAccount, type System } from '../system.ts';
import { TARGET_OPTIONS } from '../target.ts';
import { iso } from '../format.ts';

const ACCOUNT = {
  account: { type: 'string', valueName: 'id', description: 'account id from the config (default: the only one)' },
} as const;

async function withSystem<T>(
  values: Parameters<typeof openSystem>[0],
  io: Parameters<typeof openSystem>[1],
  fn: (s: System) => Promise<T>,
): Promise<T> {
  const s = await openSystem(values, io);
  try {
    return await fn(s);
  } catch (e) {
    if (e instanceof OAuthRequestError) throw new CliError(e.message, 1, { cause: e });
    throw e;
  } finally {
    s.close();
  }
}

export const authCommands: Command[] = [
  {
    path: ['auth', 'link'],
    summary: 'print the consent URL for an account (open it as an account admin)',
    details:
      'Issues a single-use state (stored in the table, valid oauth.stateTtlSeconds) and prints the URL.\n' +
      "amoCRM then redirects the admin's browser to the integration's Redirect URI (GET /oauth/callback),\n" +
      'which stores the token pair. The URL goes to stdout alone, so `open "$(amo-gateway auth link)"` works.',
    options: {
      ...TARGET_OPTIONS,
      ...ACCOUNT,
      mode: { type: 'string', valueName: 'post_message|popup', description: 'consent window mode (default post_message)' },
    },
    async run({ io, values }) {
      const mode = values.mode ?? 'post_message';
      if (mode !== 'post_message' && mode !== 'popup') throw new CliError('--mode must be post_message or popup', 2);
      return withSystem(values, io, async (s) => {
        const account = pickAccount(s.config, values.account);
        const link = await s.oauth.install.authLink(account, mode);
        io.out(link.url);
        const integ = s.oauth.lifecycle.resolve(account).integration;
        io.err(`state valid until ${iso(link.stateValidUntil)}; amoCRM will redirect to ${integ.redirectUri}`);
        return 0;
      });
    },
  },
  {
    path: ['auth', 'exchange-code'],
    summary: 'exchange a pasted authorization code (valid 20 minutes, private integrations)',
    args: '<code>',
    details: 'The code from the integration\'s "Keys and scopes" tab is exchanged at the account\'s own host and the pair is stored.',
    options: { ...TARGET_OPTIONS, ...ACCOUNT },
    positionals: { min: 1, max: 1 },
    async run({ io, values, positionals }) {
      return withSystem(values, io, async (s) => {
        const account = pickAccount(s.config, values.account);
        const res = await s.oauth.install.exchangeCode(account, positionals[0] ?? '');
        io.out(`connected ${res.account}: access token valid until ${iso(res.accessExpiresAt)} (${s.target})`);
        return 0;
      });
    },
  },
  {
    path: ['auth', 'long-lived'],
    summary: 'store a long-lived token (never refreshed; its expiry is watched)',
    args: '<token>|-',
    details:
      'Pass `-` to read the token from stdin (keeps it out of your shell history). The expiry is read\nfrom the token (JWT exp) unless --expires is given.',
    options: {
      ...TARGET_OPTIONS,
      ...ACCOUNT,
      expires: { type: 'string', valueName: 'ISO date', description: 'expiry, when the token carries none' },
    },
    positionals: { min: 1, max: 1 },
    async run({ io, values, positionals }) {
      const arg = positionals[0] ?? '';
      const token = arg === '-' ? (await io.readStdin()).trim() : arg;
      let expiresAt: number | undefined;
      if (typeof values.expires === 'string') {
        expiresAt = Date.parse(values.expires);
        if (!Number.isFinite(expiresAt)) throw new CliError(`--expires: "${values.expires}" is not a date`, 2);
      }
      return withSystem(values, io, async (s) => {
        const account = pickAccount(s.config, values.account);
        const res = await s.oauth.install.saveLongLived(account, token, expiresAt);
        io.out(`stored a long-lived token for ${res.account}: valid until ${iso(res.accessExpiresAt)} (${s.target})`);
        return 0;
      });
    },
  },
];
