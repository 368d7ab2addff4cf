/**
 * `init`: the first `amo.config.json` without writing JSON by hand. Asks the few questions — the
 * integration's client id, the amoCRM domain, the redirect URI, the accounts, the stage — each
 * answer checked as it is typed (re-asked with the reason), or takes them all as flags (`--yes`
 * for the defaults), validates the result with the config schema, writes it, and prints what comes
 * next: the secrets to create (names and commands, never values) and the deploy command.
 *
 * The chicken and the egg: amoCRM asks for the redirect URI when an integration is created and
 * gives the client id only then, while the redirect URI is the deployed gateway's
 * `/oauth/callback`. So both may start as placeholders (a client id of zeros, a host under
 * `.invalid`, RFC 2606): deploy, read the callback URL from the deploy's outputs, create the
 * integration with it, run `init --force --api-url … --client-id …` (the earlier answers are the
 * defaults, the file's other sections are kept) and deploy again. `config check` warns while a
 * placeholder is left.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { AMO_DOMAINS, accountSchema, integrationSchema, type AmoDomain } from '../../../lib/config/schema.ts';
import { explainConfig, formatProblem } from '../../../lib/config/explain.ts';
import { checkSecretsPrefix, DeployConfigError, secretNames } from '../../aws/config.ts';
import { CliError, type CliIO, type Command, type OptionValues } from '../command.ts';
import { askUntil, fromFlag, stdinAsker, type Asker, type Parsed } from '../prompt.ts';
import { str } from '../format.ts';
import { STAGES as STAGE_DEFS, stageNames, type StageName } from '../../aws/stages.ts';

export const STAGES = Object.keys(STAGE_DEFS) as StageName[];
export type Stage = StageName;

/** A client id amoCRM never issues (all zeros), so `config check` can tell it apart. */
export const PLACEHOLDER_CLIENT_ID = '00000000-0000-0000-0000-000000000000';
/** `.invalid` can never resolve (RFC 2606): a redirect URI nobody can be sent to by mistake. */
export const PLACEHOLDER_HOST = 'replace-after-first-deploy.invalid';
const PLACEHOLDER_CALLBACK = `https://${PLACEHOLDER_HOST}/oauth/callback`;
const CALLBACK_PATH = '/oauth/callback';
/** What the brackets say when Enter takes a placeholder. */
const PLACEHOLDER_LABEL = 'Enter: placeholder';
const DISCONNECT_PATH = '/oauth/disconnect';

export const isPlaceholderClientId = (id: string): boolean => id === PLACEHOLDER_CLIENT_ID;
export const isPlaceholderUrl = (url: string): boolean => URL.canParse(url) && new URL(url).hostname.endsWith('.invalid');

// ---- the answers, each checked with the schema's own field rules -------------------------------

export function parseClientId(raw: string): Parsed<string> {
  const v = raw.trim();
  if (v === '') return { ok: true, value: PLACEHOLDER_CLIENT_ID, note: 'a placeholder client id (replace it once the integration exists)' };
  const r = integrationSchema.shape.clientId.safeParse(v);
  return r.success ? { ok: true, value: v } : { ok: false, reason: r.error.issues[0]?.message ?? 'not a client id' };
}

export function parseDomain(raw: string): Parsed<AmoDomain> {
  const v = raw
    .trim()
    .toLowerCase()
    .replace(/^https?:\/\/|\/.*$/g, '')
    .replace(/^www\./, '');
  const byNumber = /^[1-9]$/.test(v) ? AMO_DOMAINS[Number(v) - 1] : undefined;
  const found = byNumber ?? AMO_DOMAINS.find((d) => d === v || d.split('.')[0] === v || d === `amocrm.${v}`);
  if (found) return { ok: true, value: found };
  return { ok: false, reason: `"${raw.trim()}" is not a supported domain: use one of ${AMO_DOMAINS.join(', ')}` };
}

/** The redirect URI; an API base URL (the deploy's ApiUrl) is completed with `/oauth/callback`. */
export function parseRedirect(raw: string): Parsed<string> {
  const v = raw.trim();
  if (v === '') return { ok: true, value: PLACEHOLDER_CALLBACK, note: 'a placeholder redirect URI (replace it after the first deploy)' };
  const r = integrationSchema.shape.redirectUri.safeParse(v);
  if (!r.success)
    return { ok: false, reason: `${r.error.issues[0]?.message ?? 'not a URL'} (a redirect URI is https://…${CALLBACK_PATH})` };
  const url = new URL(v);
  if (url.search || url.hash)
    return { ok: false, reason: 'a redirect URI has no ?query or #fragment', suggestion: `${url.origin}${url.pathname}` };
  if (url.pathname.endsWith(CALLBACK_PATH)) return { ok: true, value: v };
  if (url.pathname.includes('/oauth/'))
    return {
      ok: false,
      reason: `the gateway's OAuth callback is …${CALLBACK_PATH}`,
      suggestion: `${url.origin}${url.pathname.replace(/\/oauth\/.*$/, '')}${CALLBACK_PATH}`,
    };
  const value = `${url.origin}${url.pathname.replace(/\/+$/, '')}${CALLBACK_PATH}`;
  return { ok: true, value, note: `the API URL's OAuth callback: ${value}` };
}

export function apiUrlToRedirect(raw: string): Parsed<string> {
  const r = integrationSchema.shape.redirectUri.safeParse(raw.trim());
  if (!r.success) return { ok: false, reason: `--api-url: ${r.error.issues[0]?.message ?? 'not a URL'}` };
  const url = new URL(raw.trim());
  return { ok: true, value: `${url.origin}${url.pathname.replace(/\/+$/, '')}${CALLBACK_PATH}` };
}

export interface AccountAnswer {
  id: string;
  subdomain: string;
  domain: AmoDomain;
}

const ID_RE = /^[a-z][a-z0-9-]{0,40}$/;

/** `[id=]subdomain[:domain]`, or a host / URL such as `https://clinic.amocrm.ru`. */
export function parseAccount(raw: string, defaultDomain: AmoDomain): Parsed<AccountAnswer> {
  let v = raw.trim();
  let id: string | undefined;
  const eq = v.indexOf('=');
  if (eq > 0) {
    id = v.slice(0, eq).trim();
    v = v.slice(eq + 1).trim();
  }
  let domain: AmoDomain = defaultDomain;
  const asHost = v
    .toLowerCase()
    .replace(/^https?:\/\//, '')
    .replace(/\/.*$/, '');
  const onDomain = AMO_DOMAINS.find((d) => asHost.endsWith(`.${d}`));
  const colonForm = /^([^:/.]+):([^/]+)$/.exec(v);
  let subdomain: string;
  if (colonForm) {
    subdomain = colonForm[1] ?? '';
    const d = parseDomain(colonForm[2] ?? '');
    if (!d.ok) return d;
    domain = d.value;
  } else if (onDomain) {
    domain = onDomain;
    subdomain = asHost.slice(0, -onDomain.length - 1);
  } else if (asHost.includes('.')) {
    return { ok: false, reason: `"${asHost}" is not an amoCRM address: accounts live under ${AMO_DOMAINS.join(', ')}` };
  } else {
    subdomain = v;
  }
  const sub = accountSchema.shape.subdomain.safeParse(subdomain);
  if (!sub.success) {
    const lower = subdomain.toLowerCase();
    return {
      ok: false,
      reason: `"${subdomain}": ${sub.error.issues[0]?.message ?? 'not a subdomain'} (the "mycompany" of mycompany.${domain})`,
      ...(lower !== subdomain && accountSchema.shape.subdomain.safeParse(lower).success ? { suggestion: lower } : {}),
    };
  }
  if (id !== undefined && !ID_RE.test(id))
    return { ok: false, reason: `account id "${id}": ids are lower-case kebab-case (a-z, 0-9, -), starting with a letter` };
  return { ok: true, value: { id: id ?? idFromSubdomain(subdomain), subdomain, domain } };
}

function idFromSubdomain(sub: string): string {
  return ID_RE.test(sub) ? sub : `a-${sub}`.slice(0, 41).replace(/-+$/, '');
}

/** A list of accounts (commas or spaces); duplicates are refused, clashing ids get the domain's name. */
export function parseAccounts(raws: string[], defaultDomain: AmoDomain): Parsed<AccountAnswer[]> {
  const items = raws.flatMap((r) => r.split(/[\s,]+/)).filter((x) => x !== '');
  if (!items.length)
    return { ok: false, reason: 'at least one account: the subdomain of an amoCRM account (mycompany for mycompany.amocrm.ru)' };
  const out: AccountAnswer[] = [];
  for (const item of items) {
    const a = parseAccount(item, defaultDomain);
    if (!a.ok) return a;
    if (out.some((o) => o.subdomain === a.value.subdomain && o.domain === a.value.domain))
      return { ok: false, reason: `${a.value.subdomain}.${a.value.domain} is listed twice` };
    const explicit = item.includes('=');
    if (out.some((o) => o.id === a.value.id)) {
      if (explicit) return { ok: false, reason: `account id "${a.value.id}" is used twice` };
      a.value.id = `${a.value.id}-${a.value.domain.split('.')[0]}`.slice(0, 41);
      if (out.some((o) => o.id === a.value.id))
        return { ok: false, reason: `name the accounts yourself: id=subdomain (two would be "${a.value.id}")` };
    }
    out.push(a.value);
  }
  return { ok: true, value: out };
}

export function parseStage(raw: string): Parsed<Stage> {
  const v = raw.trim().toLowerCase() || 'dev';
  return (STAGES as readonly string[]).includes(v)
    ? { ok: true, value: v as Stage }
    : { ok: false, reason: `the stage is ${STAGES.join(' or ')}` };
}

// ---- the file ----------------------------------------------------------------------------------

export interface InitAnswers {
  integrationId: string;
  clientId: string;
  domain: AmoDomain;
  redirectUri: string;
  accounts: AccountAnswer[];
  stage: Stage;
}

type Json = Record<string, unknown>;

/** What an existing file (re-running init with --force) offers as defaults, and keeps. */
interface Existing {
  json: Json;
  integration?: Json;
  defaults: Partial<Omit<InitAnswers, 'stage'>>;
}

function readExisting(file: string): Existing | undefined {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const j = json as Json;
  const integrations = Array.isArray(j.integrations) ? (j.integrations as Json[]) : [];
  if (integrations.length > 1)
    throw new CliError(
      `${file} has ${integrations.length} integrations; init writes one. Edit it by hand (then \`amo-gateway config check\`), or --out another file`,
      2,
    );
  const integration = integrations[0];
  const accounts = (Array.isArray(j.accounts) ? (j.accounts as Json[]) : []).filter(
    (a) => typeof a.id === 'string' && typeof a.subdomain === 'string' && AMO_DOMAINS.includes(a.domain as AmoDomain),
  );
  const s = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const clientId = s(integration?.clientId);
  const redirectUri = s(integration?.redirectUri);
  const domain = accounts[0]?.domain as AmoDomain | undefined;
  return {
    json: j,
    ...(integration ? { integration } : {}),
    defaults: {
      ...(s(integration?.id) ? { integrationId: s(integration?.id) } : {}),
      ...(clientId && !isPlaceholderClientId(clientId) ? { clientId } : {}),
      ...(redirectUri && !isPlaceholderUrl(redirectUri) ? { redirectUri } : {}),
      ...(domain ? { domain } : {}),
      ...(accounts.length
        ? { accounts: accounts.map((a) => ({ id: a.id as string, subdomain: a.subdomain as string, domain: a.domain as AmoDomain })) }
        : {}),
    },
  };
}

const accountText = (a: AccountAnswer, domain: AmoDomain): string =>
  `${a.id === idFromSubdomain(a.subdomain) ? '' : `${a.id}=`}${a.subdomain}${a.domain === domain ? '' : `:${a.domain}`}`;

/** The config object: the answers over what an existing file had (its other sections and fields kept). */
export function buildConfig(a: InitAnswers, existing?: Existing): Json {
  const oldAccounts = new Map(
    (Array.isArray(existing?.json.accounts) ? (existing.json.accounts as Json[]) : []).map((x) => [x.id, x] as const),
  );
  const integration: Json = {
    ...existing?.integration,
    id: a.integrationId,
    clientId: a.clientId,
    clientSecret: existing?.integration?.clientSecret ?? { secret: `client-secret/${a.integrationId}` },
    redirectUri: a.redirectUri,
    disconnectUri: a.redirectUri.replace(/\/oauth\/callback$/, DISCONNECT_PATH),
  };
  const accounts = a.accounts.map((x) => {
    const old = oldAccounts.get(x.id);
    return {
      ...old,
      id: x.id,
      integration: a.integrationId,
      subdomain: x.subdomain,
      domain: x.domain,
      hookToken: old?.hookToken ?? { secret: `hook-token/${x.id}` },
    };
  });
  return { ...existing?.json, integrations: [integration], accounts };
}

// ---- what comes next ---------------------------------------------------------------------------

function nextSteps(config: Json, a: InitAnswers, out: string, prefix: string): string[] {
  const names = secretNames(config);
  const clientSecrets = new Set(
    (config.integrations as Json[]).map((i) => (i.clientSecret as { secret?: string } | undefined)?.secret).filter(Boolean),
  );
  const hookSecrets = new Map(
    (config.accounts as Json[]).map((x) => [(x.hookToken as { secret?: string } | undefined)?.secret, x.id as string] as const),
  );
  const defaults = stageNames(a.stage);
  const deploy = `npx cdk deploy -c config=${out} -c stage=${a.stage}${prefix === defaults.secretsPrefix ? '' : ` -c secretsPrefix=${prefix}`}${a.stage === 'prod' ? ' -c alarmEmail=<address>' : ''}`;
  const placeholders = isPlaceholderClientId(a.clientId) || isPlaceholderUrl(a.redirectUri);
  const lines = [
    '',
    `Next steps (stage ${a.stage}; secrets under ${prefix}):`,
    '',
    `1. Create the ${names.length} secret(s) the config references, in the region you deploy to. Values are typed`,
    '   or generated, never shown, never in your shell history:',
  ];
  for (const name of names) {
    const full = `${prefix}${name}`;
    if (hookSecrets.has(name)) {
      lines.push(
        `   # ${name}: the path token of ${hookSecrets.get(name)}'s webhook URL (random)`,
        `   openssl rand -hex 24 | tr -d '\\n' | aws secretsmanager create-secret --name ${full} --secret-string file:///dev/stdin`,
      );
    } else {
      lines.push(
        clientSecrets.has(name)
          ? `   # ${name}: the integration's "Secret key" (amoCRM → Settings → Integrations → yours → Keys and scopes)`
          : `   # ${name}`,
        `   read -rsp '${name}: ' SECRET && echo && printf %s "$SECRET" | aws secretsmanager create-secret --name ${full} --secret-string file:///dev/stdin; unset SECRET`,
      );
    }
  }
  if (isPlaceholderClientId(a.clientId)) lines.push(`   (${[...clientSecrets].join(', ')}: create it once the integration exists, step 3)`);
  lines.push(
    '',
    '2. Deploy (once per AWS account and region before: npx cdk bootstrap):',
    `   ${deploy}`,
    `   Check the file first, any time: npx amo-gateway config check ${out} --stage ${a.stage}`,
  );
  let step = 3;
  if (placeholders) {
    lines.push(
      '',
      `${step++}. The deploy prints the OAuth callback URL (output RedirectUri = https://…/oauth/callback; ApiUrl is its base).`,
      '   In amoCRM (Settings → Integrations → Create integration) give it as the Redirect URI, and',
      `   output DisconnectUrl as the disconnect web hook. Then put the real values in and deploy again:`,
      `   npx amo-gateway init --force --out ${out} --api-url <ApiUrl>${isPlaceholderClientId(a.clientId) ? ' --client-id <Integration ID>' : ''}`,
      `   ${deploy}`,
    );
  }
  lines.push(
    '',
    `${step}. Connect each account (open the printed link as the account's admin):`,
    ...a.accounts.map((x) => `   npx amo-gateway auth link --account ${x.id} --stack ${defaults.stackName} --region <region>`),
    `   amoCRM's webhooks go to <ApiUrl>hooks/amocrm/<the account's hook token> (aws secretsmanager get-secret-value --secret-id ${prefix}hook-token/<account> --query SecretString --output text).`,
  );
  return lines;
}

// ---- the command -------------------------------------------------------------------------------

export const initCommands: Command[] = [
  {
    path: ['init'],
    summary: 'write a first amo.config.json: a few questions (or flags), validated, then the secrets to create and the deploy command',
    details: [
      'Asks the integration ID, the amoCRM domain, the redirect URI, the accounts and the stage; every answer is',
      'checked as it is typed. Not deployed yet? Enter takes placeholders for the client id and redirect URI: deploy,',
      'then run init again with --force --api-url <ApiUrl> (earlier answers are the defaults; other sections kept).',
      'Non-interactive: the same answers as flags, --yes for the defaults of the rest.',
    ].join('\n'),
    options: {
      'client-id': { type: 'string', valueName: 'id', description: "the integration's ID in amoCRM (client_id); default: a placeholder" },
      domain: { type: 'string', valueName: 'domain', description: `the accounts' domain: ${AMO_DOMAINS.join(' | ')} (default amocrm.ru)` },
      'redirect-uri': {
        type: 'string',
        valueName: 'url',
        description: 'https://…/oauth/callback of the deployed gateway; default: a placeholder',
      },
      'api-url': { type: 'string', valueName: 'url', description: "the deploy's ApiUrl output: the redirect URI is its /oauth/callback" },
      account: {
        type: 'string',
        multiple: true,
        valueName: '[id=]sub[:domain]',
        description: 'an account by subdomain (clinic, clinic:kommo.com, crm=clinic, https://clinic.amocrm.ru); repeat for more',
      },
      stage: { type: 'string', valueName: 'dev|prod', description: 'the stage you deploy first (default dev)' },
      'integration-id': { type: 'string', valueName: 'id', description: 'our name for the integration (default main)' },
      'secrets-prefix': {
        type: 'string',
        valueName: 'prefix',
        description: 'Secrets Manager prefix (default the stage’s own: amo-gateway-<stage>/)',
      },
      out: { type: 'string', valueName: 'file', description: 'where to write (default amo.config.json)' },
      force: { type: 'boolean', description: 'overwrite the file (its answers become the defaults, its other sections are kept)' },
      yes: { type: 'boolean', short: 'y', description: 'ask nothing: what no flag gives takes its default' },
    },
    async run({ io, values }) {
      const out = str(values.out) ?? 'amo.config.json';
      const exists = existsSync(out);
      if (exists && values.force !== true)
        throw new CliError(`${out} exists; pass --force to rewrite it (its answers become the defaults), or --out another file`, 2);
      const existing = exists ? readExisting(out) : undefined;
      if (exists && !existing) io.err(`note: ${out} is not a JSON object; it will be replaced`);
      const d = existing?.defaults ?? {};
      const answers = await collect(io, values, d);
      const prefixRaw = str(values['secrets-prefix']) ?? stageNames(answers.stage).secretsPrefix;
      let prefix: string;
      try {
        prefix = checkSecretsPrefix(prefixRaw);
      } catch (e) {
        if (e instanceof DeployConfigError) throw new CliError(`--secrets-prefix: ${e.message}`, 2, { cause: e });
        throw e;
      }
      const config = buildConfig(answers, existing);
      // The same schema synth and every function use: nothing invalid is written.
      const problems = explainConfig(config);
      if (problems.length) {
        for (const p of problems) io.err(formatProblem(p));
        throw new CliError(`${out} not written: the result would not be a valid config (above)`, 1);
      }
      writeFileSync(out, `${JSON.stringify(config, null, 2)}\n`);
      io.out(
        `wrote ${out}: integration ${answers.integrationId} (${isPlaceholderClientId(answers.clientId) ? 'placeholder client id' : answers.clientId}), ` +
          `${answers.accounts.length} account(s): ${answers.accounts.map((x) => `${x.id} (${x.subdomain}.${x.domain})`).join(', ')}`,
      );
      for (const l of nextSteps(config, answers, out, prefix)) io.out(l);
      return 0;
    },
  },
];

async function collect(io: CliIO, values: OptionValues, d: Existing['defaults']): Promise<InitAnswers> {
  const yes = values.yes === true;
  const flag = (k: string) => str(values[k]);
  const accountFlags = (Array.isArray(values.account) ? (values.account as unknown[]) : []).filter(
    (x): x is string => typeof x === 'string',
  );
  let asker: Asker | undefined;
  const ask = (): Asker => (asker ??= stdinAsker(io));
  try {
    const integrationId = flag('integration-id') ?? d.integrationId ?? 'main';
    if (!ID_RE.test(integrationId))
      throw new CliError(`--integration-id: ids are lower-case kebab-case (a-z, 0-9, -), starting with a letter`, 2);

    let clientId: string;
    const cid = flag('client-id');
    if (cid !== undefined) clientId = fromFlag('client-id', cid, parseClientId);
    else if (yes) clientId = d.clientId ?? PLACEHOLDER_CLIENT_ID;
    else {
      ask().say("The integration's ID (amoCRM → Settings → Integrations → your integration → Keys and scopes).");
      ask().say(
        '  Not created yet? Enter: a placeholder now; after the first deploy you create it with the redirect URI the deploy prints.',
      );
      clientId = await askUntil(ask(), 'integration ID', parseClientId, d.clientId ?? '', d.clientId ? undefined : PLACEHOLDER_LABEL);
    }

    let domain: AmoDomain;
    const dom = flag('domain');
    if (dom !== undefined) domain = fromFlag('domain', dom, parseDomain);
    else if (yes) domain = d.domain ?? 'amocrm.ru';
    else {
      ask().say(`The accounts' domain: ${AMO_DOMAINS.map((x, i) => `${i + 1}) ${x}`).join('  ')}`);
      domain = await askUntil(ask(), 'domain', parseDomain, d.domain ?? 'amocrm.ru');
    }

    let redirectUri: string;
    const ru = flag('redirect-uri');
    const api = flag('api-url');
    if (ru !== undefined) redirectUri = fromFlag('redirect-uri', ru, parseRedirect);
    else if (api !== undefined) redirectUri = fromFlag('api-url', api, apiUrlToRedirect);
    else if (yes) redirectUri = d.redirectUri ?? PLACEHOLDER_CALLBACK;
    else {
      ask().say("The redirect URI: the deployed gateway's <ApiUrl>oauth/callback (cdk deploy prints it, output RedirectUri).");
      ask().say('  Deployed before? Paste the ApiUrl or the callback URL. Not yet? Enter: a placeholder until the first deploy.');
      redirectUri = await askUntil(
        ask(),
        'redirect URI',
        parseRedirect,
        d.redirectUri ?? '',
        d.redirectUri ? undefined : PLACEHOLDER_LABEL,
      );
    }

    let accounts: AccountAnswer[];
    const previous = d.accounts?.map((x) => accountText(x, domain)).join(', ');
    if (accountFlags.length) accounts = fromFlag('account', accountFlags.join(','), (r) => parseAccounts([r], domain));
    else if (yes) {
      if (!d.accounts?.length) throw new CliError('--account is required with --yes (e.g. --account mycompany for mycompany.amocrm.ru)', 2);
      accounts = d.accounts;
    } else {
      ask().say(`The accounts: each one's subdomain (mycompany for mycompany.${domain}), separated by commas.`);
      ask().say('  id=subdomain names one yourself; subdomain:kommo.com puts one on another domain; a pasted address works too.');
      accounts = await askUntil(ask(), 'accounts', (r) => parseAccounts([r], domain), previous);
    }

    let stage: Stage;
    const st = flag('stage');
    if (st !== undefined) stage = fromFlag('stage', st, parseStage);
    else if (yes) stage = 'dev';
    else stage = await askUntil(ask(), `stage (${STAGES.join('|')})`, parseStage, 'dev');

    return { integrationId, clientId, domain, redirectUri, accounts, stage };
  } finally {
    asker?.close();
  }
}
