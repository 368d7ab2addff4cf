/**
 * `contacts index build | index status`, `contacts find`: the contact index the forms flow (and
 * later 1C and chat) finds people by (lib/contacts/README.md). Through THE client runtime, like
 * `schema pull`: the same shared rate budget and 403 breaker as the running gateway.
 */
import type { Log } from '../../../lib/common/log.ts';
import { createContactsRuntime } from '../../../lib/aws/contacts-runtime.ts';
import { contactsCountry } from '../../../lib/aws/contacts-config.ts';
import { buildContactIndex, normalizeEmail, normalizePhoneKey, type IndexBuildState } from '../../../lib/contacts/index.ts';
import { DynamoContactIndex } from '../../../lib/store/contact-index.ts';
import { CliError, type CliIO, type Command } from '../command.ts';
import { iso, str } from '../format.ts';
import { TARGET_OPTIONS } from '../target.ts';
import { accountOf, clientFailure, openAmo } from './schema.ts';

const ACCOUNT = { type: 'string', valueName: 'id', description: 'account id from the config (default: the only one)' } as const;

function stateLines(account: string, s: IndexBuildState | undefined): string[] {
  if (!s) return [`${account}: no index build yet — run \`amo-gateway contacts index build --account ${account}\``];
  return [
    `${account}: ${s.status === 'done' ? `built, finished ${iso(s.finishedAt)}` : `build in progress or interrupted, next page ${s.nextPage}`}`,
    `  pages     ${s.pages}`,
    `  contacts  ${s.contacts}`,
    `  keys      ${s.keys} (phone / e-mail entries written)`,
    `  started   ${iso(s.startedAt)}`,
    `  updated   ${iso(s.updatedAt)}`,
  ];
}

/** The finder's warnings (several matches, stale entries) to stderr; they carry ids and counts only. */
function stderrLog(io: CliIO): Log {
  const say = (m: string, a?: Record<string, unknown>) => io.err(`  ${m}${a ? ` ${JSON.stringify(a)}` : ''}`);
  return { debug() {}, info: say, warn: say, error: say };
}

export const contactsCommands: Command[] = [
  {
    path: ['contacts', 'index', 'build'],
    summary: "index the account's contacts by normalised phone / e-mail (250 per request, resumable)",
    details:
      'Pages through every contact of the account (250 per GET, ordered by id) and writes each one under\n' +
      'the E.164 form of its stored phones and the lower-cased form of its e-mails. The cursor is saved\n' +
      'after each page: run it again after an interruption and it resumes at the first unfinished page.\n' +
      'A finished build is not repeated; --restart starts over from page 1. Webhooks keep it fresh after.',
    options: {
      ...TARGET_OPTIONS,
      account: ACCOUNT,
      restart: { type: 'boolean', description: 'forget the saved cursor and start from page 1' },
      quiet: { type: 'boolean', short: 'q', description: 'no progress lines' },
    },
    async run({ io, values }) {
      const s = await openAmo(values, io, { mode: 'await' });
      try {
        const account = accountOf(s, values.account);
        const index = new DynamoContactIndex({ doc: s.doc, tableName: s.tableName });
        io.err(`indexing the contacts of ${account} (${s.runtime.accountHost(account)}; index in ${s.target})`);
        let r;
        try {
          r = await buildContactIndex({
            account,
            client: s.runtime.clientFor(account),
            index,
            defaultCountry: contactsCountry(s.config),
            restart: values.restart === true,
            ...(io.clock ? { now: () => io.clock!.now() } : {}),
            onPage: (st) => {
              if (!values.quiet) io.err(`  page ${st.pages}: ${st.contacts} contacts, ${st.keys} keys written`);
            },
          });
        } catch (e) {
          clientFailure(account, e);
        }
        if (r.pagesRead === 0 && r.state.status === 'done' && values.restart !== true)
          io.out(`${account}: already built (finished ${iso(r.state.finishedAt)}); --restart to build again`);
        else io.out(`${account}: ${r.resumed ? 'resumed and ' : ''}finished: ${r.pagesRead} page(s) read now`);
        for (const l of stateLines(account, r.state)) io.out(l);
        return 0;
      } finally {
        s.close();
      }
    },
  },
  {
    path: ['contacts', 'index', 'status'],
    summary: "where the account's contact index build stands (pages, contacts, keys, finished when)",
    details: 'Exit code 1 while the index has not been built to the end (never started, running or interrupted).',
    options: { ...TARGET_OPTIONS, account: ACCOUNT },
    async run({ io, values }) {
      const s = await openAmo(values, io, { mode: 'await' });
      try {
        const account = accountOf(s, values.account);
        const st = await new DynamoContactIndex({ doc: s.doc, tableName: s.tableName }).getBuild(account);
        for (const l of stateLines(account, st)) io.out(l);
        return st?.status === 'done' ? 0 : 1;
      } finally {
        s.close();
      }
    },
  },
  {
    path: ['contacts', 'find'],
    summary: 'the verified amoCRM contact of a phone and/or e-mail, and how it was found (index or search)',
    details:
      "What the forms flow does for one person: the index first, else amoCRM's `query` search, and a\n" +
      'candidate counts only if one of its stored phones / e-mails really is this one. Exit 1 when no contact\n' +
      'matches. Index entries that fail verification are removed; verified search hits are added.',
    options: {
      ...TARGET_OPTIONS,
      account: ACCOUNT,
      phone: { type: 'string', valueName: 'phone', description: 'a phone in any spelling (read in forms.defaultCountry, default RU)' },
      email: { type: 'string', valueName: 'email', description: 'an e-mail (trimmed, lower-cased)' },
    },
    async run({ io, values }) {
      const phone = str(values.phone);
      const email = str(values.email);
      if (!phone && !email) throw new CliError('give --phone and/or --email', 2);
      const s = await openAmo(values, io, { mode: 'await' });
      try {
        const account = accountOf(s, values.account);
        const dc = contactsCountry(s.config);
        const p = phone === undefined ? undefined : normalizePhoneKey(phone, dc);
        const e = email === undefined ? undefined : normalizeEmail(email);
        if (phone !== undefined && !p) throw new CliError(`--phone is not a valid phone number (country ${dc} when it has no +code)`, 2);
        if (email !== undefined && !e) throw new CliError('--email is not a valid e-mail address', 2);
        const { finder } = createContactsRuntime({
          config: s.config,
          doc: s.doc,
          tableName: s.tableName,
          clientFor: (a) => s.runtime.clientFor(a),
          log: stderrLog(io),
        });
        let m;
        try {
          [m] = await finder.find(account, [{ ...(p ? { phone: p } : {}), ...(e ? { email: e } : {}) }]);
        } catch (err) {
          clientFailure(account, err);
        }
        const looked = [p, e].filter(Boolean).join(', ');
        if (!m) {
          io.out(`${account}: no contact carries ${looked}`);
          return 1;
        }
        const c = m.contact;
        io.out(
          `${account}: contact ${c.id} "${c.name ?? ''}" — found via ${m.via === 'index' ? 'the index' : "amoCRM's search"}, verified`,
        );
        io.out(`  updated   ${iso((c.updated_at ?? 0) * 1000)}`);
        io.out(`  leads     ${(c._embedded?.leads ?? []).map((l) => l.id).join(', ') || '-'}`);
        if (m.matches > 1)
          io.out(`  ${m.matches} contacts really carry ${looked}: the most recently updated is shown (duplicates in amoCRM)`);
        return 0;
      } finally {
        s.close();
      }
    },
  },
];
