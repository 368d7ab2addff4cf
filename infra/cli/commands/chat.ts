/**
 * `chat connect | disconnect | status`: the amojo chat channel (lib/amojo) per account. Connect
 * reads the account's amojo id from amoCRM (`GET /api/v4/account?with=amojo_id`, through THE
 * client runtime: the shared rate budget and breaker), connects the channel of the config's
 * `chat` section with its secret, and stores the scope amojo returns in the table, where the
 * gateway's chat flows find it. Run it once per account, and again after every reinstall of the
 * integration (turning it off disconnects the channel; the gateway also reconnects by itself when
 * amojo answers 404 for a stored scope).
 */
import {
  AmojoChannel,
  AmojoClient,
  AmojoClockSkewError,
  AmojoError,
  AmojoSignatureError,
  amojoBaseUrl,
  type ChatScope,
} from '../../../lib/amojo/index.ts';
import type { ChatConfig } from '../../../lib/amojo/config.ts';
import { resolveSecret } from '../../../lib/config/secrets.ts';
import { DynamoScopeStore } from '../../../lib/store/amojo-scopes.ts';
import { CliError, type CliIO, type Command, type OptionValues } from '../command.ts';
import { iso, str, table } from '../format.ts';
import { TARGET_OPTIONS } from '../target.ts';
import { accountOf, clientFailure, openAmo, type AmoSystem } from './schema.ts';

function chatSection(s: AmoSystem): ChatConfig {
  // Exit 1, not 2: a deployment without a chat channel is a state, not a mistyped command.
  if (!s.config.chat)
    throw new CliError(
      'no chat channel is configured: the config has no `chat` section (channel id, its secret, the accounts; lib/amojo/README.md)',
      1,
    );
  return s.config.chat;
}

/** The account, which must be one of the chat section's. */
function chatAccount(s: AmoSystem, chat: ChatConfig, value: OptionValues[string]): string {
  const account = accountOf(s, value);
  if (!chat.accounts.some((a) => a.account === account))
    throw new CliError(`account "${account}" is not in chat.accounts (${chat.accounts.map((a) => a.account).join(', ')})`, 2);
  return account;
}

async function channelFor(s: AmoSystem, chat: ChatConfig, account: string, io: CliIO): Promise<{ channel: AmojoChannel; baseUrl: string }> {
  const cfg = s.config.accounts.find((a) => a.id === account);
  if (!cfg) throw new CliError(`unknown account "${account}"`, 2);
  let secret: string;
  try {
    secret = await resolveSecret(s.secrets, chat.channel.secret);
  } catch (e) {
    throw new CliError(`the channel secret "${chat.channel.secret.secret}" cannot be read: ${(e as Error).message}`, 1, { cause: e });
  }
  const baseUrl = amojoBaseUrl(chat, cfg);
  const client = new AmojoClient({
    baseUrl,
    channelId: chat.channel.id,
    secret,
    timeoutMs: chat.timeoutMs,
    ...(io.fetch ? { fetch: io.fetch } : {}),
    ...(io.clock ? { now: () => io.clock!.now() } : {}),
  });
  const channel = new AmojoChannel({
    client,
    store: new DynamoScopeStore({ doc: s.doc, tableName: s.tableName }),
    ...(io.clock ? { now: () => io.clock!.now() } : {}),
  });
  return { channel, baseUrl };
}

/** The account's amojo id, from amoCRM. */
async function amojoIdOf(s: AmoSystem, account: string): Promise<string> {
  let id: string | undefined;
  try {
    id = (await s.runtime.clientFor(account).account.get(['amojo_id'])).amojo_id;
  } catch (e) {
    clientFailure(account, e);
  }
  if (!id) throw new CliError(`${account}: amoCRM did not return the account's amojo_id (GET /api/v4/account?with=amojo_id)`, 1);
  return id;
}

/** amojo's refusals as one line each: a skewed clock and a wrong secret say what to fix. */
function amojoFailure(account: string, chat: ChatConfig, e: unknown): never {
  if (e instanceof AmojoClockSkewError)
    throw new CliError(
      `${account}: ${e.message}. Fix this machine's clock (NTP); amojo refuses every request signed more than 15 minutes off`,
      1,
      {
        cause: e,
      },
    );
  if (e instanceof AmojoSignatureError)
    throw new CliError(
      `${account}: amojo refused the signature: check the channel id ${chat.channel.id} and the secret "${chat.channel.secret.secret}" (as amoCRM support issued them)`,
      1,
      { cause: e },
    );
  if (e instanceof AmojoError) throw new CliError(`${account}: ${e.message}`, 1, { cause: e });
  throw e;
}

function requireAccount(values: OptionValues, verb: string): void {
  if (!str(values.account)) throw new CliError(`--account is required: ${verb} names the account explicitly`, 2);
}

export const chatCommands: Command[] = [
  {
    path: ['chat', 'connect'],
    summary: 'connect the chat channel to an account (again after every reinstall) and store its scope',
    details:
      "Reads the account's amojo id from amoCRM (GET /api/v4/account?with=amojo_id, through the shared rate\n" +
      'budget), connects the channel of the config section `chat` (callbacks in the v2 format) and stores the\n' +
      'scope_id amojo returns. Connecting again is harmless (same scope). Needs the account connected (`auth`).\n' +
      'Target: --local (a running npm start), --stack NAME --region R, or --table with --dynamodb-endpoint (stand-ins) or without (AWS).',
    options: {
      ...TARGET_OPTIONS,
      account: { type: 'string', valueName: 'id', description: 'the account (required)' },
      title: {
        type: 'string',
        valueName: 'text',
        description: "the channel's title in this account (default: chat.accounts[].title, chat.channel.title)",
      },
    },
    async run({ io, values }) {
      requireAccount(values, 'connecting a channel');
      const s = await openAmo(values, io, { mode: 'await' });
      try {
        const chat = chatSection(s);
        const account = chatAccount(s, chat, values.account);
        const title = str(values.title) ?? chat.accounts.find((a) => a.account === account)?.title ?? chat.channel.title;
        const amojoId = await amojoIdOf(s, account);
        const { channel, baseUrl } = await channelFor(s, chat, account, io);
        let scope: ChatScope;
        try {
          scope = await channel.connect(account, amojoId, title);
        } catch (e) {
          amojoFailure(account, chat, e);
        }
        io.out(`${account}: channel ${chat.channel.id} connected at ${baseUrl} (amojo id ${scope.amojoId})`);
        io.out(`  scope_id ${scope.scopeId}${scope.title ? `, title "${scope.title}"` : ''}; stored in ${s.target}`);
        return 0;
      } finally {
        s.close();
      }
    },
  },
  {
    path: ['chat', 'disconnect'],
    summary: 'disconnect the chat channel from an account (its chats stop reaching amoCRM)',
    details:
      'Disconnects the channel at amojo and marks the stored scope disconnected: the gateway then defers the\n' +
      "account's chat messages (`amojo-not-connected`) until `chat connect` runs again. Uses the stored amojo id,\n" +
      'or asks amoCRM for it when none is stored.',
    options: {
      ...TARGET_OPTIONS,
      account: { type: 'string', valueName: 'id', description: 'the account (required)' },
    },
    async run({ io, values }) {
      requireAccount(values, 'disconnecting a channel');
      const s = await openAmo(values, io, { mode: 'await' });
      try {
        const chat = chatSection(s);
        const account = chatAccount(s, chat, values.account);
        const { channel } = await channelFor(s, chat, account, io);
        const stored = await channel.status(account);
        const amojoId = stored?.amojoId ?? (await amojoIdOf(s, account));
        try {
          await channel.disconnect(account, amojoId);
        } catch (e) {
          amojoFailure(account, chat, e);
        }
        io.out(`${account}: channel ${chat.channel.id} disconnected${stored ? ` (scope_id ${stored.scopeId})` : ' (no scope was stored)'}`);
        return 0;
      } finally {
        s.close();
      }
    },
  },
  {
    path: ['chat', 'status'],
    summary: "each chat account's channel: connected or not, its scope, since when",
    details: 'Reads the stored scopes (nothing is sent to amojo). Exit code 1 when an account listed is not connected.',
    options: {
      ...TARGET_OPTIONS,
      account: { type: 'string', valueName: 'id', description: 'only this account (default: every account of chat.accounts)' },
      json: { type: 'boolean', description: 'JSON lines instead of a table' },
    },
    async run({ io, values }) {
      const s = await openAmo(values, io, { mode: 'await' });
      try {
        const chat = chatSection(s);
        const accounts = str(values.account) ? [chatAccount(s, chat, values.account)] : chat.accounts.map((a) => a.account);
        const store = new DynamoScopeStore({ doc: s.doc, tableName: s.tableName });
        const rows: Array<{ account: string; scope: ChatScope | undefined }> = [];
        for (const account of accounts) rows.push({ account, scope: await store.get(account) });
        const stateOf = (r: (typeof rows)[number]) =>
          !r.scope ? 'not connected' : r.scope.channelId !== chat.channel.id ? 'other channel' : r.scope.state;
        if (values.json) {
          for (const r of rows) io.out(JSON.stringify({ account: r.account, state: stateOf(r), ...(r.scope ?? {}) }));
        } else {
          const lines = table([
            ['ACCOUNT', 'STATE', 'SCOPE', 'AMOJO ID', 'CONNECTED', 'DISCONNECTED'],
            ...rows.map((r) => [
              r.account,
              stateOf(r),
              r.scope?.scopeId ?? '-',
              r.scope?.amojoId ?? '-',
              iso(r.scope?.connectedAt),
              iso(r.scope?.disconnectedAt),
            ]),
          ]);
          for (const l of lines) io.out(l);
          for (const r of rows.filter((x) => stateOf(x) !== 'connected'))
            io.out(`${r.account}: not connected; run \`amo-gateway chat connect --account ${r.account}\``);
        }
        return rows.every((r) => stateOf(r) === 'connected') ? 0 : 1;
      } finally {
        s.close();
      }
    },
  },
];
