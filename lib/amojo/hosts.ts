/**
 * amojo's host for an account (docs/amojo-protocol.md#hosts): amocrm.ru → amojo.amocrm.ru, Kommo →
 * amojo.kommo.com (amocrm.com, the old international domain, is Kommo's: *assumed*). An account
 * with its own `baseUrl` (the sandbox serves amojo beside REST) is reached there. Apart from
 * config.ts, whose zod schemas (checked at synth and by the CLI) the worker never builds
 * (infra/aws/README.md, "What each function bundles").
 */
export function amojoBaseUrl(chat: { amojoUrl?: string | undefined }, account: { domain: string; baseUrl?: string | undefined }): string {
  if (chat.amojoUrl) return chat.amojoUrl.replace(/\/+$/, '');
  if (account.baseUrl) return account.baseUrl.replace(/\/+$/, '');
  return account.domain === 'amocrm.ru' ? 'https://amojo.amocrm.ru' : 'https://amojo.kommo.com';
}
