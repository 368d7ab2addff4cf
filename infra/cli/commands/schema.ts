/**
 * `schema pull`: an account's dictionary (pipelines + statuses, custom fields with their options,
 * tags, task types, users) written to the JSON file the typed lookups read
 * (lib/amocrm/client/schema.ts), so flows name things instead of carrying magic ids.
 *
 * Also home of `openAmo()`, shared with `breaker …`: the CLI's way to THE client runtime
 * (lib/aws/amo-client-runtime.ts) — the same DynamoDB rate budget, breaker and cache the running
 * gateway uses — against any target (infra/cli/target.ts).
 */
import { join } from 'node:path';
import {
  AccountBlockedError,
  AmoAccountBlockedError,
  AmoClientError,
  pullSchema,
  pullSchemaToFile,
  type AccountSchemaJson,
  type ClientEvent,
} from '../../../lib/amocrm/client/index.ts';
import { isOAuthError } from '../../../lib/amocrm/oauth/index.ts';
import { createAmoClientRuntime, type AmoClientRuntime } from '../../../lib/aws/amo-client-runtime.ts';
import { UnknownAccountError } from '../../../lib/config/load.ts';
import { CliError, type CliIO, type Command, type OptionValues } from '../command.ts';
import { openSystem, pickAccount, type System } from '../system.ts';
import { TARGET_OPTIONS } from '../target.ts';
import { str } from '../format.ts';

// ---------------------------------------------------------------------------------------------
// Reaching the client runtime (shared with breaker.ts).

export interface AmoSystem extends System {
  runtime: AmoClientRuntime;
}

/** Config, OAuth and the client runtime over the one table. Close it when done. */
export async function openAmo(
  values: OptionValues,
  io: CliIO,
  opts: { mode: 'await' | 'defer'; onEvent?: (account: string, e: ClientEvent) => void },
): Promise<AmoSystem> {
  const s = await openSystem(values, io);
  const runtime = createAmoClientRuntime({
    config: s.config,
    oauth: s.oauth.provider,
    doc: s.doc,
    tableName: s.tableName,
    mode: opts.mode,
    ...(io.fetch ? { fetch: io.fetch } : {}),
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
  });
  return { ...s, runtime };
}

/** `--account` (or the only account), checked against the config: a usage error when unknown. */
export function accountOf(s: AmoSystem, value: OptionValues[string]): string {
  const account = pickAccount(s.config, value);
  try {
    s.runtime.accountRef(account);
  } catch (e) {
    if (e instanceof UnknownAccountError) throw new CliError(e.message, 2, { cause: e });
    throw e;
  }
  return account;
}

/** The client's and OAuth's typed errors as one clear line each (they carry no tokens). */
export function clientFailure(account: string, e: unknown): never {
  if (e instanceof AccountBlockedError) {
    throw new CliError(
      `${account}: the account's 403 breaker is open (amoCRM blocked it); nothing was sent. See \`amo-gateway breaker status --account ${account}\``,
      1,
      { cause: e },
    );
  }
  if (e instanceof AmoAccountBlockedError) {
    throw new CliError(
      `${account}: amoCRM blocked the account (403); its breaker is now open and every instance stops calling it. Ask amoCRM support to unblock it, then \`amo-gateway breaker lift --account ${account} --yes\``,
      1,
      { cause: e },
    );
  }
  if (isOAuthError(e) || e instanceof AmoClientError) throw new CliError(`${account}: ${(e as Error).message}`, 1, { cause: e });
  throw e;
}

// ---------------------------------------------------------------------------------------------
// schema pull

/** The counts printed after a pull. */
export function schemaSummary(json: AccountSchemaJson): string[] {
  const kinds = ['leads', 'contacts', 'companies'] as const;
  const statuses = json.pipelines.reduce((n, p) => n + p.statuses.length, 0);
  const options = kinds.reduce((n, k) => n + json.customFields[k].reduce((m, f) => m + (f.enums?.length ?? 0), 0), 0);
  return [
    `  pipelines      ${json.pipelines.length} (${statuses} statuses)`,
    `  custom fields  ${kinds.map((k) => `${k} ${json.customFields[k].length}`).join(', ')} (${options} options)`,
    `  tags           ${kinds.map((k) => `${k} ${json.tags[k].length}`).join(', ')}`,
    `  task types     ${json.taskTypes.length}`,
    `  users          ${json.users.length}`,
  ];
}

function progressLine(e: ClientEvent): string | undefined {
  switch (e.type) {
    case 'request':
      return `  ${e.method} ${e.route} → ${e.status} (${e.durationMs} ms)`;
    case 'request-failed':
      return `  ${e.method} ${e.route} → ${e.error} (${e.durationMs} ms)`;
    case 'retry':
      return `  retrying ${e.method} ${e.route} in ${e.delayMs} ms (${e.reason})`;
    case 'budget-wait':
      // Short waits are the budget's normal pacing; only say so when it is noticeable.
      return e.waitMs >= 1_000 ? `  waiting ${e.waitMs} ms for the shared rate budget` : undefined;
    default:
      return undefined;
  }
}

export const schemaCommands: Command[] = [
  {
    path: ['schema', 'pull'],
    summary: "write an account's dictionary (pipelines, fields, tags, task types, users) to a JSON file",
    details:
      'Reads the dictionary fresh from amoCRM (about 10 requests) through the same shared rate budget\n' +
      'and 403 breaker as the running gateway (waiting for budget, never exceeding 7 requests/s), and\n' +
      'writes pretty, stably ordered JSON (default schema/<account>.json; `--out -` prints it). Flows load\n' +
      "it with loadSchemaFile() and name things: status('Воронка', 'Успешно реализовано'), value('leads',\n" +
      "'Источник', 'Сайт'), user('anna@example.ru'). Run it again when someone edits pipelines or fields.\n" +
      'Target: --local (a running npm start), --stack NAME --region R, or --table with --dynamodb-endpoint (stand-ins) or without (AWS).',
    options: {
      ...TARGET_OPTIONS,
      account: { type: 'string', valueName: 'id', description: 'account id from the config (default: the only one)' },
      out: { type: 'string', valueName: 'file', description: 'where to write (default schema/<account>.json; - for stdout)' },
      quiet: { type: 'boolean', short: 'q', description: 'no progress lines' },
    },
    async run({ io, values }) {
      let requests = 0;
      const onEvent = (_account: string, e: ClientEvent) => {
        if (e.type === 'request') requests += 1;
        const line = values.quiet ? undefined : progressLine(e);
        if (line) io.err(line);
      };
      const s = await openAmo(values, io, { mode: 'await', onEvent });
      try {
        const account = accountOf(s, values.account);
        const out = str(values.out) ?? join('schema', `${account}.json`);
        io.err(`pulling the dictionary of ${account} (${s.runtime.accountHost(account)}; budget and breaker in ${s.target})`);
        const client = s.runtime.clientFor(account);
        let json: AccountSchemaJson;
        try {
          json = out === '-' ? await pullSchema(client) : await pullSchemaToFile(client, out);
        } catch (e) {
          clientFailure(account, e);
        }
        // With `--out -` stdout is the JSON alone, so it can be piped.
        const say = out === '-' ? io.err : io.out;
        if (out === '-') io.out(JSON.stringify(json, null, 2));
        say(
          `${out === '-' ? 'pulled' : `wrote ${out}:`} account "${json.account.name}" (${json.account.subdomain}, id ${json.account.id}), ${requests} requests`,
        );
        for (const l of schemaSummary(json)) say(l);
        return 0;
      } finally {
        s.close();
      }
    },
  },
];
