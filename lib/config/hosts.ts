/**
 * The account-host helpers of the config (lib/config/schema.ts re-exports them), in a module of
 * their own without zod: the OAuth functions use them at run time and bundle no schema.
 */
import type { AccountConfig } from './schema.ts';

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return h === '127.0.0.1' || h === 'localhost' || h === '::1';
}

/** The account's API base URL (no trailing slash). */
export function accountBaseUrl(a: Pick<AccountConfig, 'subdomain' | 'domain' | 'baseUrl'>): string {
  return (a.baseUrl ?? `https://${a.subdomain}.${a.domain}`).replace(/\/+$/, '');
}

/** The account's host as amoCRM names it in `referer` (host[:port], lower-case). */
export function accountHost(a: Pick<AccountConfig, 'subdomain' | 'domain' | 'baseUrl'>): string {
  return new URL(accountBaseUrl(a)).host.toLowerCase();
}

/**
 * Does `host` (host[:port], already lower-case) match the allow-list? `*.amocrm.ru` matches one
 * DNS label followed by `.amocrm.ru` (so neither `amocrm.ru` itself nor `a.b.amocrm.ru`, and never
 * a host with a port); other entries must equal the host exactly.
 */
export function hostAllowed(host: string, allowList: readonly string[]): boolean {
  for (const entry of allowList) {
    if (entry.startsWith('*.')) {
      const suffix = entry.slice(1); // ".amocrm.ru"
      if (!host.endsWith(suffix)) continue;
      const label = host.slice(0, -suffix.length);
      if (/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) return true;
    } else if (entry === host) {
      return true;
    }
  }
  return false;
}
