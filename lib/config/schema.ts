/**
 * The typed configuration of one deployment (docs/architecture.md#configuration): which amoCRM/Kommo integrations it
 * holds, which accounts they are installed in, and the OAuth policy. Validated with zod at synth
 * (the construct writes the result, defaults filled in, to `AMO_CONFIG_JSON`), by the CLI and the
 * local runner; a deployed function reads that JSON without the schema (lib/config/deployed.ts).
 *
 * Secrets never appear here: a secret is a *reference* (`{ "secret": "NAME" }`) resolved at run
 * time through a SecretSource (lib/config/secrets.ts) — Secrets Manager in AWS, env or a file
 * under `.local/` on one machine. The config itself can therefore travel in an env var or the
 * template.
 *
 * Sections so far: `integrations`, `accounts` (with each account's webhook `hookToken`), `oauth`,
 * `mirror` (a second deployment every request is copied to), `events` (publish typed amoCRM
 * events), `rdesk`, `rules`, `forms`, `chat` and `onec` (each flow's own section, defined beside the flow). The
 * root object is strict, so a section must be added to the schema before a config file may carry
 * it: a typo is an error, never a silently ignored setting.
 */
import * as z from 'zod';
import { idSchema } from '../routes.ts';
import { secretRefSchema } from './secret-ref.ts';
import { accountHost, hostAllowed, isLoopbackHost } from './hosts.ts';
import { rdeskSchema } from '../flows/rdesk/config.ts';
import { rulesSchema } from '../rules/config.ts';
import { formsSchema } from '../flows/forms/config.ts';
import { chatSchema } from '../amojo/config.ts';
import { onecAccountRefs, onecSchema } from '../flows/onec/config.ts';

/** amoCRM/Kommo top-level domains an account lives under (the part after the subdomain). */
export const AMO_DOMAINS = ['amocrm.ru', 'amocrm.com', 'kommo.com'] as const;
export type AmoDomain = (typeof AMO_DOMAINS)[number];

/** The referer allow-list used when the config says nothing (docs/amocrm-protocol.md#redirect-parameters). */
export const DEFAULT_REFERER_ALLOW_LIST = ['*.amocrm.ru', '*.amocrm.com', '*.kommo.com'];

const id = z.string().regex(/^[a-z][a-z0-9-]{0,40}$/, 'ids are lower-case kebab-case (a-z, 0-9, -), starting with a letter');

export { secretRefSchema, type SecretRef } from './secret-ref.ts';
export { accountBaseUrl, accountHost, hostAllowed, isLoopbackHost } from './hosts.ts';

/** http(s) URL; plain http only towards this machine (the local sandbox and runner). */
const serviceUrl = z
  .string()
  .url()
  .refine((u) => {
    // zod runs this even after .url() failed; that issue already says "invalid URL" (new URL would throw).
    if (!URL.canParse(u)) return true;
    const url = new URL(u);
    if (url.protocol === 'https:') return true;
    return url.protocol === 'http:' && isLoopbackHost(url.hostname);
  }, 'must be https:// (http:// is accepted only for 127.0.0.1 / localhost)');

export const integrationSchema = z
  .object({
    /** Our name for the integration (referenced by accounts). */
    id,
    /** amoCRM's "Integration ID" (client_id, a UUID). */
    clientId: z.string().regex(/^[A-Za-z0-9-]{8,64}$/, 'a client id is the integration ID from amoCRM (letters, digits, dashes)'),
    /** The "Secret key"; a reference, resolved at run time. */
    clientSecret: secretRefSchema,
    /** Must equal the integration's Redirect URI character for character (docs/amocrm-protocol.md#token-endpoint). */
    redirectUri: serviceUrl,
    /**
     * The "Access revoked notification web hook" URL set in the integration, when it is set
     * (informative: printed by `auth link`; the hook itself is verified by its signature).
     */
    disconnectUri: serviceUrl.optional(),
  })
  .strict();
export type IntegrationConfig = z.infer<typeof integrationSchema>;

export const accountSchema = z
  .object({
    /** Our name for the account: flows and the CLI refer to accounts by it. */
    id,
    /** The integration installed in this account. */
    integration: id,
    /** `mycompany` in mycompany.amocrm.ru. */
    subdomain: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a subdomain is lower-case letters, digits and dashes'),
    domain: z.enum(AMO_DOMAINS),
    /**
     * Overrides `https://<subdomain>.<domain>` (the local sandbox: http://127.0.0.1:PORT). The
     * host of this URL is what amoCRM sends as `referer` on install.
     */
    baseUrl: serviceUrl.optional(),
    /** amoCRM's numeric account id (the disconnect hook names accounts by it). Optional: also learnt from the token. */
    accountId: z.number().int().positive().optional(),
    /** The amojo account id (chat API), when the chat channel is used. */
    amojoId: z.string().min(1).optional(),
    /**
     * The secret path token of this account's webhook URL, `/hooks/amocrm/{token}` (a reference;
     * the worker resolves it once and compares in constant time). Without it the account's
     * webhooks are refused as `bad-token`.
     */
    hookToken: secretRefSchema.optional(),
  })
  .strict();
export type AccountConfig = z.infer<typeof accountSchema>;

export const oauthSchema = z
  .object({
    /**
     * Hosts a `referer` may name. `*.amocrm.ru` matches exactly one label in front of amocrm.ru;
     * other entries match the whole host (with its port). Nothing else is ever sent a code or
     * the client secret.
     */
    refererAllowList: z
      .array(z.string().regex(/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/, 'an entry is a host, host:port or *.domain'))
      .min(1)
      .default(DEFAULT_REFERER_ALLOW_LIST),
    /** Installs without a `state` we issued (marketplace / widget). Off unless asked for. */
    allowStatelessInstall: z.boolean().default(false),
    /** How long an issued `state` stays valid (seconds); the code itself lives 20 minutes. */
    stateTtlSeconds: z.number().int().min(60).max(86_400).default(3600),
  })
  .strict();
export type OAuthConfig = z.infer<typeof oauthSchema>;

/** Route ids as the route table (lib/routes.ts) spells them; the worker checks they exist. */
const routeId = idSchema;

/**
 * Mirror mode (lib/mirror): every received request of the mirrored routes is sent again, as
 * received, to a second deployment, after the ack and best effort.
 */
export const mirrorSchema = z
  .object({
    /** The other deployment's base URL, e.g. `https://abc.execute-api.eu-central-1.amazonaws.com/prod`. */
    baseUrl: serviceUrl,
    /** Route ids to mirror (default: every queue route). */
    routes: z.array(routeId).min(1).optional(),
    /** The mirror's own path token per route id (routes with a `{token}` parameter), as secret references. */
    tokens: z.record(routeId, secretRefSchema).optional(),
    /** Per request (default 3000 ms). */
    timeoutMs: z.number().int().min(100).max(30_000).optional(),
  })
  .strict();
export type MirrorConfig = z.infer<typeof mirrorSchema>;

/** Typed events out (EventBridge in AWS, a recording bus locally). */
export const eventsSchema = z
  .object({
    /** Publish every parsed amoCRM event (`amocrm.<kind>`). Default true. */
    publish: z.boolean().default(true),
  })
  .strict();
export type EventsConfig = z.infer<typeof eventsSchema>;

export const configSchema = z
  .object({
    integrations: z.array(integrationSchema).min(1),
    accounts: z.array(accountSchema),
    oauth: oauthSchema.default({ refererAllowList: DEFAULT_REFERER_ALLOW_LIST, allowStatelessInstall: false, stateTtlSeconds: 3600 }),
    mirror: mirrorSchema.optional(),
    events: eventsSchema.default({ publish: true }),
    /** RDESK (Zdravnitsa) pushes → lead fields (lib/flows/rdesk/README.md). */
    rdesk: rdeskSchema.optional(),
    /** Declarative amoCRM automations (lib/rules/README.md); names are resolved against the pulled dictionaries. */
    rules: rulesSchema.optional(),
    /** Site forms → contact + lead or Unsorted (lib/flows/forms/README.md). */
    forms: formsSchema.optional(),
    /** The amojo chat channel and the accounts it is connected to (lib/amojo/README.md). */
    chat: chatSchema.optional(),
    /** The 1C exchange: catalog, companies and deals (lib/flows/onec/README.md). */
    onec: onecSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const dup = (kind: string, path: string, values: string[]) => {
      const seen = new Set<string>();
      values.forEach((v, i) => {
        if (seen.has(v)) ctx.addIssue({ code: 'custom', path: [path, i], message: `duplicate ${kind} "${v}"` });
        seen.add(v);
      });
    };
    dup(
      'integration id',
      'integrations',
      c.integrations.map((i) => i.id),
    );
    dup(
      'client id',
      'integrations',
      c.integrations.map((i) => i.clientId),
    );
    dup(
      'account id',
      'accounts',
      c.accounts.map((a) => a.id),
    );
    // One token naming two accounts would make a webhook's account ambiguous.
    const tokenSecrets = new Map<string, string>();
    c.accounts.forEach((a, i) => {
      if (!a.hookToken) return;
      const other = tokenSecrets.get(a.hookToken.secret);
      if (other)
        ctx.addIssue({
          code: 'custom',
          path: ['accounts', i, 'hookToken'],
          message: `account "${other}" already uses hookToken secret "${a.hookToken.secret}"`,
        });
      else tokenSecrets.set(a.hookToken.secret, a.id);
    });
    const accountIds = new Set(c.accounts.map((a) => a.id));
    c.rdesk?.accounts.forEach((r, i) => {
      if (!accountIds.has(r.account))
        ctx.addIssue({ code: 'custom', path: ['rdesk', 'accounts', i, 'account'], message: `unknown account "${r.account}"` });
    });
    c.rules?.list.forEach((r, i) => {
      if (!accountIds.has(r.account))
        ctx.addIssue({ code: 'custom', path: ['rules', 'list', i, 'account'], message: `unknown account "${r.account}"` });
      r.then.forEach((a, j) => {
        const key = 'transfer' in a ? 'transfer' : 'syncBack' in a ? 'syncBack' : undefined;
        const to = 'transfer' in a ? a.transfer.to : 'syncBack' in a ? a.syncBack.to : undefined;
        if (key && to !== undefined && !accountIds.has(to))
          ctx.addIssue({ code: 'custom', path: ['rules', 'list', i, 'then', j, key, 'to'], message: `unknown account "${to}"` });
      });
    });
    c.forms?.list.forEach((f, i) => {
      if (!accountIds.has(f.account))
        ctx.addIssue({ code: 'custom', path: ['forms', 'list', i, 'account'], message: `unknown account "${f.account}"` });
    });
    c.chat?.accounts.forEach((a, i) => {
      if (!accountIds.has(a.account))
        ctx.addIssue({ code: 'custom', path: ['chat', 'accounts', i, 'account'], message: `unknown account "${a.account}"` });
    });
    for (const [path, a] of onecAccountRefs(c.onec))
      if (!accountIds.has(a)) ctx.addIssue({ code: 'custom', path: ['onec', ...path], message: `unknown account "${a}"` });
    Object.keys(c.rules?.accounts ?? {}).forEach((a) => {
      if (!accountIds.has(a)) ctx.addIssue({ code: 'custom', path: ['rules', 'accounts', a], message: `unknown account "${a}"` });
    });
    const integrations = new Set(c.integrations.map((i) => i.id));
    const hosts = new Set<string>();
    c.accounts.forEach((a, i) => {
      if (!integrations.has(a.integration))
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'integration'], message: `unknown integration "${a.integration}"` });
      // Two entries for one (integration, host) would make an install ambiguous.
      const key = `${a.integration} ${accountHost(a)}`;
      if (hosts.has(key))
        ctx.addIssue({
          code: 'custom',
          path: ['accounts', i],
          message: `another account of integration "${a.integration}" already uses host ${accountHost(a)}`,
        });
      hosts.add(key);
      if (!hostAllowed(accountHost(a), c.oauth.refererAllowList)) {
        ctx.addIssue({
          code: 'custom',
          path: ['accounts', i],
          message: `host ${accountHost(a)} is not in oauth.refererAllowList, so this account could never be installed`,
        });
      }
    });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
