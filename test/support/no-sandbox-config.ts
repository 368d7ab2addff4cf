/**
 * The config a `npm start --no-sandbox` user writes for one sandbox account (the crash-safe e2e
 * test and the fault suite both set the account up that way): one integration, the account with
 * its webhook path token, the sandbox's host on the OAuth referer allow-list, events published,
 * and the stage rule "Продажи / Записан на приём" → a task, resolved against `dictionary`.
 * `extra` adds sections (rdesk, forms …).
 */
import { DEFAULT_REFERER_ALLOW_LIST } from '../../lib/config/schema.ts';

export interface NoSandboxAccount {
  clientId: string;
  /** The runner's base URL (the redirect URI is its /oauth/callback). */
  runnerUrl: string;
  sandbox: { url: string; accountHost: string };
  /** Our id of the account. */
  account: string;
  /** The pulled dictionary file the rule resolves against. */
  dictionary: string;
}

export function noSandboxConfig(a: NoSandboxAccount, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    integrations: [
      { id: 'sb', clientId: a.clientId, clientSecret: { secret: 'client-secret' }, redirectUri: `${a.runnerUrl}/oauth/callback` },
    ],
    accounts: [
      {
        id: a.account,
        integration: 'sb',
        subdomain: 'sandbox',
        domain: 'amocrm.ru',
        baseUrl: a.sandbox.url,
        accountId: 31000001,
        hookToken: { secret: 'hook-token' },
      },
    ],
    oauth: { refererAllowList: [...DEFAULT_REFERER_ALLOW_LIST, a.sandbox.accountHost] },
    events: { publish: true },
    rules: {
      accounts: { [a.account]: { dictionary: a.dictionary } },
      list: [
        {
          id: 'booked-call',
          account: a.account,
          when: { lead: 'status', to: 'Продажи / Записан на приём' },
          then: [{ task: { type: 'Связаться', text: 'Подтвердить запись: {{name}}', due: { in: 900 }, responsible: 'current' } }],
        },
      ],
    },
    ...extra,
  };
}
