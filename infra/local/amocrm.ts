/**
 * The amoCRM side of the local runner: which amoCRM the gateway talks to, its config and
 * secrets, the OAuth engine, the worker's ingest deps (idempotency on dynalite, a recording bus
 * printed one line per event, metrics in memory) and — with the sandbox — the connected world:
 *
 * - **sandbox** (default of `npm start`): the strict amoCRM simulator (infra/local/sandbox) runs
 *   as a runner service with the demo account. On first start a local config and secrets are
 *   generated and kept under the data dir (`amo.sandbox.config.json`, `secrets.json`: a random
 *   client secret and a random webhook token); the integration is registered in the sandbox with
 *   redirect URI `<runner>/oauth/callback` and disconnect URL `<runner>/oauth/disconnect`; the
 *   account is connected through the real install flow (auth link → the sandbox's authorize page
 *   → its redirect to OUR `/oauth/callback`) unless the stored token still works; and the
 *   account's webhooks are subscribed to `<runner>/hooks/amocrm/<token>` through the REST API.
 * - **a real account** (`--no-sandbox`): the config file (`amo.config.json`) and local secrets
 *   (`.local/secrets.json` or `AMO_SECRET_<NAME>`); nothing is connected or subscribed
 *   automatically (the CLI's `auth link` does it; a real amoCRM needs a public URL for webhooks).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createOAuth, type OAuth } from '../../lib/amocrm/oauth/index.ts';
import { createAmoClientRuntime, type ClientTuning } from '../../lib/aws/amo-client-runtime.ts';
import type { ClientEvent } from '../../lib/amocrm/client/types.ts';
import { withContactFlows } from '../../lib/aws/contacts-runtime.ts';
import { formsWorkerDeps } from '../../lib/aws/forms-worker-runtime.ts';
import { onecWorkerParts } from '../../lib/aws/onec-runtime.ts';
import type { AmoClientForAccount } from '../../lib/amocrm/client/client.ts';
import { loadConfigFile, parseConfig } from '../../lib/config/load.ts';
import { DEFAULT_REFERER_ALLOW_LIST, isLoopbackHost, type Config, type ConfigInput, type MirrorConfig } from '../../lib/config/schema.ts';
import { localSecretSource, staticSecretSource, type SecretSource } from '../../lib/config/secrets.ts';
import { RecordingBus, type BusEvent } from '../../lib/events/bus.ts';
import { FlowRegistry, RecordingMetrics, type MirrorSender } from '../../lib/ingest/index.ts';
import { createDynamoIdempotency } from '../../lib/store/idempotency.ts';
import { DynamoTokenStore } from '../../lib/store/token-store.ts';
import type { WorkerIngestDeps } from '../../lib/aws/worker-runtime.ts';
import { DynamoLeadMap } from '../../lib/store/rdesk-lead-map.ts';
import { DynamoPushOrder } from '../../lib/store/rdesk-push-order.ts';
import type { Log } from '../../lib/common/log.ts';
import type { MetricsSink } from '../../lib/common/metrics-sink.ts';
import { DynamoRulesState } from '../../lib/store/rules-state.ts';
import { pullSchema, type AccountSchema as AccountDictionary } from '../../lib/amocrm/client/schema.ts';
import { AccountSchema } from '../../lib/amocrm/client/schema.ts';
import { loadRules, registerRules, type CompiledRules, type RulesConfigInput } from '../../lib/rules/index.ts';
import type { LocalLog } from './log.ts';
import { connectLocalChat, localChat, localChatSecrets, localChatSection, localEdgeKeys, type LocalChatOptions } from './chat.ts';
import type { LocalService } from './runner.ts';
import { demoSeed } from './sandbox/demo.ts';
import { startSandbox, type Sandbox, type SandboxOptions } from './sandbox/index.ts';

/** Our ids for the sandbox world (the CLI takes `--account local`). */
export const SANDBOX_ACCOUNT = 'local';
export const SANDBOX_INTEGRATION = 'sandbox';
/** amoCRM's numeric id of the sandbox account (the disconnect hook names it). */
export const SANDBOX_AMO_ACCOUNT_ID = 31_000_001;
export const SANDBOX_SUBDOMAIN = 'sandbox';
/** Secret names in `secrets.json` (prefixed so they never collide with a real config's). */
export const SANDBOX_SECRETS = { clientSecret: 'local-sandbox/client-secret', hookToken: 'local-sandbox/hook-token' } as const;
export const SANDBOX_CONFIG_FILE = 'amo.sandbox.config.json';
export const SECRETS_FILE = 'secrets.json';
/** The demo deal and the stage the banner's "move a deal" moves it to (infra/local/sandbox/demo.ts). */
export const DEMO_MOVE = { leadId: 8001, statusId: 50012 } as const;
/** What the sandbox account sends to the gateway (the events the sandbox fires and a few more). */
export const SANDBOX_WEBHOOK_SETTINGS = [
  'add_lead',
  'update_lead',
  'status_lead',
  'responsible_lead',
  'delete_lead',
  'restore_lead',
  'note_lead',
  'add_contact',
  'update_contact',
  'responsible_contact',
  'note_contact',
  'add_company',
  'update_company',
  'responsible_company',
  'note_company',
  'add_task',
  'update_task',
] as const;

export interface LocalAmoOptions {
  /**
   * true (or options): the sandbox is amoCRM. false: a real account from `configFile`.
   * `fetch` is the sandbox's own (its outgoing webhooks and disconnect hook; tests record them).
   */
  sandbox: boolean | { port?: number; fetch?: typeof fetch; options?: Partial<SandboxOptions> };
  /** `--no-sandbox`: the config file (default env AMO_CONFIG_FILE, then ./amo.config.json). */
  configFile?: string;
  /** Local secrets file for `--no-sandbox` (default `<dataDir or .local>/secrets.json`). */
  secretsFile?: string;
  /** Print one line per published event (default true). */
  printEvents?: boolean;
  /** Flows registered for the worker (tests; later issues register theirs). */
  flows?: FlowRegistry;
  /** A mirror target merged into the generated (sandbox) config. */
  mirror?: MirrorConfig;
  /** An `rdesk` section merged into the generated (sandbox) config (its accounts name `sandbox`). */
  rdesk?: ConfigInput['rdesk'];
  /** The `forms` section of the generated (sandbox) config (its forms name the account `local`); default DEMO_FORMS (the form `contact`). With forms, the contact index flow is on. */
  forms?: ConfigInput['forms'];
  /** Extra secrets for the generated config (e.g. the mirror's route tokens). */
  extraSecrets?: Record<string, string>;
  /** Replaces the mirror sender (tests). */
  mirrorSender?: MirrorSender;
  /** Connect the account at start when no working token is stored (sandbox only; default true). */
  autoConnect?: boolean;
  /** Subscribe the sandbox account's webhooks to our hook route (default true). */
  subscribe?: boolean;
  /**
   * Rules merged into the generated (sandbox) config. In sandbox mode their names are resolved
   * against the dictionary pulled from the sandbox at connect; with `--no-sandbox` against the
   * dictionary files (schema/<account>.json), at start.
   */
  rules?: RulesConfigInput;
  /** The chat channel in sandbox mode (infra/local/chat.ts; default: the `demo` messenger); false: none. */
  chat?: LocalChatOptions | false;
  /** fetch of the chat relay (tests record it). */
  chatFetch?: typeof fetch;
  /** An `onec` section merged into the generated (sandbox) config (its accounts name `local`): the 1C exchange. */
  onec?: ConfigInput['onec'];
  /** Every event of the worker's amoCRM client (requests, budget waits, deferrals), with its account: benches measure the budget with it. */
  onClientEvent?: (account: string, event: ClientEvent) => void;
  /** Tuning of the worker-side amoCRM client (timeouts, add re-check policy): the fault suite shortens them. Default the client's own. */
  client?: ClientTuning;
}

export class LocalAmoError extends Error {
  override readonly name = 'LocalAmoError';
}

export type AccountState = 'connected' | 'needs-reauth' | 'disconnected' | 'not-connected';

/** What the runner (and tests) see of the amoCRM side once it is up. */
export interface LocalAmo {
  mode: 'sandbox' | 'account';
  config: Config;
  secrets: SecretSource;
  oauth: OAuth;
  bus: RecordingBus;
  metrics: RecordingMetrics;
  flows: FlowRegistry;
  /** The sandbox (sandbox mode only). */
  sandbox: Sandbox | undefined;
  /** Where the generated config and secrets are kept (undefined in memory mode or --no-sandbox). */
  files: { config: string; secrets: string } | undefined;
  /** The full webhook URL of an account, token included — for tests and tools; never print it. */
  hookUrl(account?: string): Promise<string>;
  /** OAuth state per account. */
  accountStates(): Promise<Record<string, AccountState>>;
  /** The API keys the `edge-api-key` routes take (config chat.inboundApiKey). */
  edgeApiKeys(): Promise<ReadonlySet<string>>;
}

interface GeneratedSecrets {
  clientId: string;
  values: Record<string, string>;
}

const randomToken = (): string => randomBytes(32).toString('base64url');

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // Never echo the file: it holds secrets.
    throw new LocalAmoError(`${file} is unreadable or not JSON; fix or delete it`, { cause: e });
  }
}

/** Atomic write, owner-only permissions (the file holds secrets). */
function writePrivate(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
  chmodSync(file, 0o600);
}

/**
 * The sandbox world's stable parts: client id (kept in the generated config), client secret and
 * hook token (kept in secrets.json, merged with whatever else the file holds). Generated once.
 */
function sandboxSecrets(dataDir: string | undefined): GeneratedSecrets {
  if (!dataDir)
    return {
      clientId: randomUUID(),
      values: { [SANDBOX_SECRETS.clientSecret]: randomToken(), [SANDBOX_SECRETS.hookToken]: randomToken() },
    };
  const secretsFile = join(dataDir, SECRETS_FILE);
  const raw = readJson(secretsFile);
  const all: Record<string, unknown> =
    typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...(raw as Record<string, unknown>) } : {};
  let changed = false;
  for (const name of [SANDBOX_SECRETS.clientSecret, SANDBOX_SECRETS.hookToken]) {
    if (typeof all[name] !== 'string' || all[name] === '') {
      all[name] = randomToken();
      changed = true;
    }
  }
  if (changed || !existsSync(secretsFile)) writePrivate(secretsFile, `${JSON.stringify(all, null, 2)}\n`);
  const previous = readJson(join(dataDir, SANDBOX_CONFIG_FILE)) as { integrations?: Array<{ clientId?: unknown }> } | undefined;
  const kept = previous?.integrations?.[0]?.clientId;
  const clientId = typeof kept === 'string' && /^[A-Za-z0-9-]{8,64}$/.test(kept) ? kept : randomUUID();
  return {
    clientId,
    values: {
      [SANDBOX_SECRETS.clientSecret]: all[SANDBOX_SECRETS.clientSecret] as string,
      [SANDBOX_SECRETS.hookToken]: all[SANDBOX_SECRETS.hookToken] as string,
    },
  };
}

/**
 * The runner's URL as the sandbox and the config see it: a wildcard bind (`0.0.0.0`, `::`) is
 * reached at 127.0.0.1. The config takes plain http only for loopback hosts, so another address
 * cannot be used with the sandbox.
 */
export function reachableUrl(url: string): string {
  const u = new URL(url);
  const h = u.hostname.replace(/^\[|\]$/g, '');
  if (h === '0.0.0.0' || h === '::') u.hostname = '127.0.0.1';
  else if (!isLoopbackHost(h))
    throw new LocalAmoError(
      `the sandbox needs the runner on a loopback or wildcard address, not ${h} (plain http is accepted only for 127.0.0.1 / localhost)`,
    );
  return u.toString().replace(/\/+$/, '');
}

export function sandboxConfigInput(a: {
  clientId: string;
  runnerUrl: string;
  sandbox: Sandbox;
  mirror?: MirrorConfig;
  rdesk?: ConfigInput['rdesk'];
  rules?: RulesConfigInput;
  forms?: ConfigInput['forms'];
  chat?: ConfigInput['chat'];
  onec?: ConfigInput['onec'];
}): ConfigInput {
  return {
    integrations: [
      {
        id: SANDBOX_INTEGRATION,
        clientId: a.clientId,
        clientSecret: { secret: SANDBOX_SECRETS.clientSecret },
        redirectUri: `${a.runnerUrl}/oauth/callback`,
        disconnectUri: `${a.runnerUrl}/oauth/disconnect`,
      },
    ],
    accounts: [
      {
        id: SANDBOX_ACCOUNT,
        integration: SANDBOX_INTEGRATION,
        subdomain: SANDBOX_SUBDOMAIN,
        domain: 'amocrm.ru',
        baseUrl: a.sandbox.url,
        accountId: SANDBOX_AMO_ACCOUNT_ID,
        hookToken: { secret: SANDBOX_SECRETS.hookToken },
      },
    ],
    oauth: { refererAllowList: [...DEFAULT_REFERER_ALLOW_LIST, a.sandbox.accountHost] },
    events: { publish: true },
    ...(a.mirror ? { mirror: a.mirror } : {}),
    ...(a.rdesk ? { rdesk: a.rdesk } : {}),
    ...(a.rules ? { rules: a.rules } : {}),
    forms: a.forms ?? DEMO_FORMS,
    ...(a.chat ? { chat: a.chat } : {}),
    ...(a.onec ? { onec: a.onec } : {}),
  };
}

/**
 * The site form `npm start` serves at `/forms/contact` (lib/flows/forms/README.md "Posting a
 * form"): name required, a phone or an e-mail, a comment; browser `fetch` allowed from a page
 * served on port 8080 of this machine; a lead in the demo pipeline.
 */
export const DEMO_FORMS: NonNullable<ConfigInput['forms']> = {
  defaultCountry: 'RU',
  list: [
    {
      id: 'contact',
      name: 'Заявка с сайта',
      account: SANDBOX_ACCOUNT,
      origins: ['http://localhost:8080', 'http://127.0.0.1:8080'],
      fields: {
        name: { type: 'text', required: true, maxLength: 200 },
        phone: { type: 'phone' },
        email: { type: 'email' },
        comment: { type: 'text', maxLength: 2000 },
      },
      lead: { pipeline: 'Продажи', status: 'Новая заявка' },
    },
  ],
};

/** One line per published event: kind, account, entity id (and the stage move for lead.status). */
export function eventLine(e: BusEvent): { message: string; attributes: Record<string, unknown> } {
  const d = e.detail as {
    account?: unknown;
    entityId?: unknown;
    kind?: unknown;
    data?: { status_id?: unknown; old_status_id?: unknown } | null;
  };
  const attributes: Record<string, unknown> = { account: d.account, id: d.entityId ?? undefined };
  if (d.kind === 'lead.status' && d.data) {
    attributes.from = d.data.old_status_id;
    attributes.to = d.data.status_id;
  }
  return { message: e.detailType, attributes };
}

export interface LocalAmoWiring {
  /** Services to start with the runner (the sandbox). */
  services: LocalService[];
  /** Once the runner listens: config, OAuth, ingest deps (and the sandbox integration registered). */
  wire(a: {
    url: string;
    ddb: DynamoDBClient;
    doc: DynamoDBDocumentClient;
    tableName: string;
  }): Promise<{ amo: LocalAmo; ingest: WorkerIngestDeps; clientFor?: (accountId: string) => AmoClientForAccount }>;
  /** Once every function is wired: connect the account and subscribe its webhooks (sandbox). */
  connect(): Promise<{ connected: 'already' | 'now' | 'skipped'; subscribed: boolean }>;
  /** For /health: the sandbox's and the accounts' state. */
  health(): Promise<{ ok: boolean; [detail: string]: unknown }>;
}

export function prepareLocalAmo(
  opts: LocalAmoOptions,
  env: { dataDir: string | undefined; log: LocalLog; debug?: boolean },
): LocalAmoWiring {
  const sandboxOpts = opts.sandbox === false ? undefined : opts.sandbox === true ? {} : opts.sandbox;
  let sandbox: Sandbox | undefined;
  let amo: LocalAmo | undefined;
  let hookDestination: string | undefined;
  let store: { doc: DynamoDBDocumentClient; tableName: string } | undefined;
  /** THE worker-side client runtime (set by `wire`): every flow's amoCRM calls, the rules' too. */
  let workerClientFor: ((accountId: string) => AmoClientForAccount) | undefined;
  let rulesCompiled: CompiledRules | undefined;
  const services: LocalService[] = [];
  if (sandboxOpts) {
    services.push({
      name: 'sandbox',
      async start() {
        sandbox = await startSandbox({
          port: sandboxOpts.port ?? 0,
          account: { id: SANDBOX_AMO_ACCOUNT_ID, subdomain: SANDBOX_SUBDOMAIN, name: 'Local sandbox' },
          ...(sandboxOpts.fetch ? { fetch: sandboxOpts.fetch } : {}),
          ...(env.debug ? { log: (line: string) => env.log.line('sandbox', line) } : {}),
          ...sandboxOpts.options,
        });
        sandbox.admin.seed(demoSeed());
        return { url: sandbox.url };
      },
      async stop() {
        await sandbox?.close();
      },
      async health() {
        if (!sandbox) return { ok: false, error: 'not started' };
        const s = sandbox.admin.state() as { counts?: Record<string, number>; block?: unknown };
        const deliveries = sandbox.admin.webhookDeliveries();
        return {
          ok: true,
          url: sandbox.url,
          account: SANDBOX_SUBDOMAIN,
          leads: s.counts?.leads,
          blocked: Boolean(s.block),
          webhooks: {
            subscriptions: sandbox.admin.webhookSubscriptions().length,
            delivered: deliveries.filter((d) => d.ok).length,
            failed: deliveries.filter((d) => !d.ok).length,
          },
        };
      },
    });
  }

  const accountStates = async (): Promise<Record<string, AccountState>> => {
    if (!amo) return {};
    const out: Record<string, AccountState> = {};
    for (const a of amo.config.accounts) {
      const rec = await amo.oauth.lifecycle.read(a.id);
      out[a.id] = !rec ? 'not-connected' : rec.status === 'active' ? 'connected' : rec.status;
    }
    return out;
  };

  /** Registers the rules as flows of the worker, with the client and the state on the local table. */
  const registerLocalRules = (compiled: CompiledRules): void => {
    if (!amo || !store || !workerClientFor) return;
    const clientFor = workerClientFor;
    registerRules(amo.flows, {
      rules: compiled,
      client: (a) => clientFor(a.id),
      state: new DynamoRulesState(store),
      metrics: amo.metrics,
    });
    env.log.line('rules', `${compiled.rules.length} rule(s) registered`, { rules: compiled.rules.map((r) => r.id).join(',') });
  };

  return {
    services,

    async wire({ url, ddb, doc, tableName }) {
      const runnerUrl = sandbox ? reachableUrl(url) : url.replace(/\/+$/, '');
      let config: Config;
      let secrets: SecretSource;
      let files: LocalAmo['files'];
      if (sandbox) {
        const gen = sandboxSecrets(env.dataDir);
        const chat =
          opts.chat === false
            ? undefined
            : localChatSection({
                clientId: gen.clientId,
                runnerUrl,
                sandbox,
                account: SANDBOX_ACCOUNT,
                ...(opts.chat ? { options: opts.chat } : {}),
                secrets: localChatSecrets(env.dataDir),
              });
        if (chat && env.dataDir) {
          // Kept beside the sandbox's own secrets, so the API key stays the same across starts.
          const file = join(env.dataDir, SECRETS_FILE);
          const raw = readJson(file);
          const all = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
          writePrivate(file, `${JSON.stringify({ ...all, ...chat.secrets }, null, 2)}\n`);
        }
        config = parseConfig(
          sandboxConfigInput({
            clientId: gen.clientId,
            runnerUrl,
            sandbox,
            ...(opts.mirror ? { mirror: opts.mirror } : {}),
            ...(opts.rdesk ? { rdesk: opts.rdesk } : {}),
            ...(opts.rules ? { rules: opts.rules } : {}),
            ...(opts.forms ? { forms: opts.forms } : {}),
            ...(chat ? { chat: chat.section } : {}),
            ...(opts.onec ? { onec: opts.onec } : {}),
          }),
          'the generated sandbox config',
        );
        secrets = staticSecretSource({ ...gen.values, ...chat?.secrets, ...opts.extraSecrets });
        if (env.dataDir) {
          files = { config: join(env.dataDir, SANDBOX_CONFIG_FILE), secrets: join(env.dataDir, SECRETS_FILE) };
          // Rewritten every start: the URLs change with the ports; the ids and secrets do not.
          writePrivate(files.config, `${JSON.stringify(config, null, 2)}\n`);
        }
        const clientSecret = gen.values[SANDBOX_SECRETS.clientSecret] as string;
        sandbox.admin.addIntegration({
          clientId: gen.clientId,
          clientSecret,
          redirectUri: `${runnerUrl}/oauth/callback`,
          disconnectUrl: `${runnerUrl}/oauth/disconnect`,
        });
      } else {
        const file = opts.configFile ?? process.env.AMO_CONFIG_FILE ?? 'amo.config.json';
        if (!existsSync(file)) throw new LocalAmoError(`--no-sandbox needs a config: ${resolve(file)} does not exist (pass --config FILE)`);
        config = loadConfigFile(file);
        // Names in the rules must resolve against the dictionary files before anything runs.
        rulesCompiled = loadRules(config);
        secrets = localSecretSource({ file: opts.secretsFile ?? join(env.dataDir ?? '.local', SECRETS_FILE) });
        files = undefined;
      }
      const log = env.log.pipeline('oauth');
      const metrics = new RecordingMetrics();
      const oauth = createOAuth({
        config,
        store: new DynamoTokenStore({ doc, tableName }),
        secrets,
        fetch: globalThis.fetch,
        log,
        metrics,
      });
      const bus = new RecordingBus(
        opts.printEvents === false
          ? undefined
          : (e) => {
              const l = eventLine(e);
              env.log.line('event', l.message, l.attributes);
            },
      );
      // The contact index's webhook flow (lib/contacts) when the config has a `forms` section, as in AWS.
      const contactFlows = withContactFlows(config, { doc, tableName }, opts.flows ?? new FlowRegistry()) as FlowRegistry;
      // The 1C exchange (config `onec`): its queue's processor and the deal-export flow, as in AWS.
      const clientFor = localClients(config, oauth, doc, tableName, log, metrics, opts.client, opts.onClientEvent);
      const onec = onecWorkerParts({
        config,
        secrets,
        doc,
        tableName,
        flows: contactFlows,
        log,
        metrics,
        clientFor,
      });
      const flows = onec.flows ?? contactFlows;
      const hookUrl = async (account = config.accounts[0]?.id): Promise<string> => {
        const a = config.accounts.find((x) => x.id === account);
        if (!a?.hookToken) throw new LocalAmoError(`account "${account}" has no hookToken`);
        return `${runnerUrl}/hooks/amocrm/${encodeURIComponent(await secrets.get(a.hookToken.secret))}`;
      };
      const edgeApiKeys = () => localEdgeKeys(config, secrets);
      amo = {
        mode: sandbox ? 'sandbox' : 'account',
        config,
        secrets,
        oauth,
        bus,
        metrics,
        flows,
        sandbox,
        files,
        hookUrl,
        accountStates,
        edgeApiKeys,
      };
      const ingest: WorkerIngestDeps = {
        config,
        secrets,
        idempotency: (remainingTimeMs) => createDynamoIdempotency({ client: ddb, tableName, remainingTimeMs }),
        bus,
        flows,
        ...(opts.mirrorSender ? { mirror: opts.mirrorSender } : {}),
        // Every flow talks to amoCRM through the ONE client runtime (`clientFor`: budget, breaker, cache on dynalite), as in AWS.
        // RDESK pushes (config `rdesk`).
        ...(config.rdesk
          ? { rdesk: { clientFor, leadMap: new DynamoLeadMap({ doc, tableName }), order: new DynamoPushOrder({ doc, tableName }) } }
          : {}),
        // The chat channel (config `chat` with messengers): lib/aws/chat-runtime.ts.
        ...(config.chat?.messengers.length
          ? { chat: localChat(config, secrets, clientFor, doc, tableName, env.log, metrics, opts.chatFetch) }
          : {}),
        // Site-form submissions (config `forms`): the contact finder and the flow's state.
        ...(config.forms ? { forms: formsWorkerDeps({ config, clientFor, doc, tableName, log, metrics }) } : {}),
        processors: onec.processors,
      };
      if (sandbox) hookDestination = await hookUrl(SANDBOX_ACCOUNT);
      store = { doc, tableName };
      workerClientFor = clientFor;
      if (rulesCompiled) registerLocalRules(rulesCompiled);
      return { amo, ingest, clientFor };
    },

    async connect() {
      if (!amo || !sandbox || !hookDestination) return { connected: 'skipped', subscribed: false };
      const connectedAmo = amo;
      const { oauth } = amo;
      let connected: 'already' | 'now' = 'already';
      if (opts.autoConnect !== false && !(await tokenWorks(amo, sandbox))) {
        await installThroughCallback(oauth, sandbox);
        connected = 'now';
      }
      let subscribed = false;
      if (opts.subscribe !== false) {
        // Through the shared rate budget like every other call: amoCRM counts this one too.
        const runtime = createAmoClientRuntime({
          config: amo.config,
          oauth: oauth.provider,
          doc: store!.doc,
          tableName: store!.tableName,
          mode: 'await',
        });
        try {
          await runtime.clientFor(SANDBOX_ACCOUNT).webhooks.subscribe(hookDestination, [...SANDBOX_WEBHOOK_SETTINGS]);
        } catch (e) {
          throw new LocalAmoError(`subscribing the sandbox account's webhooks failed: ${e instanceof Error ? e.message : String(e)}`, {
            cause: e,
          });
        }
        subscribed = true;
      }
      if (connectedAmo.config.chat) {
        // The chat channel, connected as `amo-gateway chat connect` would (the sandbox forgets it every start).
        const scopeId = await connectLocalChat(connectedAmo.config, connectedAmo.secrets, sandbox, store!);
        if (scopeId) env.log.line('chat', 'channel connected', { account: SANDBOX_ACCOUNT });
      }
      if (connectedAmo.config.rules?.list.length) {
        // The sandbox is fresh every start: its dictionary is pulled now and the rules resolved against it.
        const runtime = createAmoClientRuntime({
          config: connectedAmo.config,
          oauth: connectedAmo.oauth.provider,
          ...store!,
          mode: 'await',
        });
        const given = new Map<string, AccountDictionary>([
          [SANDBOX_ACCOUNT, AccountSchema.from(await pullSchema(runtime.clientFor(SANDBOX_ACCOUNT)))],
        ]);
        const compiled = loadRules(connectedAmo.config, { given });
        if (compiled) registerLocalRules(compiled);
      }
      return { connected, subscribed };
    },

    async health() {
      if (!amo) return { ok: false, error: 'not wired' };
      const accounts = await accountStates();
      return { ok: Object.values(accounts).every((s) => s === 'connected'), mode: amo.mode, accounts, events: amo.bus.events.length };
    },
  };
}

/** Is a token stored for the sandbox account, active, and accepted by THIS sandbox (it keeps nothing between runs)? */
async function tokenWorks(amo: LocalAmo, sandbox: Sandbox): Promise<boolean> {
  const rec = await amo.oauth.lifecycle.read(SANDBOX_ACCOUNT);
  if (!rec || rec.status !== 'active' || !rec.current || rec.host !== sandbox.accountHost) return false;
  const res = await fetch(`${sandbox.url}/api/v4/account`, { headers: { authorization: `Bearer ${rec.current.accessToken}` } });
  await res.arrayBuffer();
  return res.status === 200;
}

/**
 * The real install flow, end to end: issue a state (auth link), open the sandbox's authorize page
 * as the account admin's browser would, and follow its redirect to OUR `/oauth/callback` (the
 * oauth function checks client id, referer and state, and exchanges the code).
 */
async function installThroughCallback(oauth: OAuth, sandbox: Sandbox): Promise<void> {
  const link = await oauth.install.authLink(SANDBOX_ACCOUNT);
  const consent = await fetch(link.url, { redirect: 'manual' });
  await consent.arrayBuffer();
  const location = consent.headers.get('location');
  if (consent.status !== 302 || !location)
    throw new LocalAmoError(`the sandbox's authorize page answered ${consent.status} without a redirect`);
  // The location holds the code: never log it.
  const cb = await fetch(location, { headers: { accept: 'application/json' }, redirect: 'manual' });
  const body = (await cb.json().catch(() => ({}))) as { error?: string; message?: string };
  if (cb.status !== 200)
    throw new LocalAmoError(
      `connecting the sandbox account failed: /oauth/callback answered ${cb.status} ${body.error ?? ''} ${body.message ?? ''}`.trim(),
    );
  const rec = await oauth.lifecycle.read(SANDBOX_ACCOUNT);
  if (rec?.status !== 'active' || rec.host !== sandbox.accountHost)
    throw new LocalAmoError('the callback answered 200 but no active token is stored for the sandbox account');
}

/** A client runtime for the 1C parts, built on first use (the same shape as the RDESK one). */
function localClients(
  config: Config,
  oauth: OAuth,
  doc: DynamoDBDocumentClient,
  tableName: string,
  log: Log,
  metrics: MetricsSink,
  client: ClientTuning | undefined,
  onEvent?: (account: string, event: ClientEvent) => void,
) {
  let amo: ReturnType<typeof createAmoClientRuntime> | undefined;
  return (id: string) =>
    (amo ??= createAmoClientRuntime({
      config,
      oauth: oauth.provider,
      doc,
      tableName,
      log,
      metrics,
      ...(client ? { client } : {}),
      ...(onEvent ? { onEvent } : {}),
    })).clientFor(id);
}
