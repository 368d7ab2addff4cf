/** The `chat` config section: its shape, its account check in the whole config, and amojo's host per account. */
import { describe, expect, it } from 'vitest';
import { amojoBaseUrl } from '../../lib/amojo/config.ts';
import { parseConfig } from '../../lib/config/index.ts';
import { secretNames } from '../../infra/aws/config.ts';

const base = {
  integrations: [
    {
      id: 'main',
      clientId: '01d01160-aaaa-bbbb-cccc-000000000001',
      clientSecret: { secret: 'amo/main' },
      redirectUri: 'https://gw.example.com/oauth/callback',
    },
  ],
  accounts: [
    { id: 'clinic', integration: 'main', subdomain: 'clinic', domain: 'amocrm.ru' },
    { id: 'intl', integration: 'main', subdomain: 'clinic', domain: 'kommo.com' },
  ],
};
const chat = {
  channel: { id: '344a5002-f8ca-454d-af3d-396180102ac7', secret: { secret: 'chat/channel' } },
  accounts: [{ account: 'clinic' }],
};

describe('chat config', () => {
  it('parses with its defaults; the channel secret is a reference the deployment must create', () => {
    const c = parseConfig({ ...base, chat });
    expect(c.chat).toEqual({ ...chat, timeoutMs: 10_000, messengers: [] });
    expect(secretNames({ ...base, chat })).toContain('chat/channel');
  });

  it('refuses an unknown account, a plain secret, unknown keys and plain http to another machine', () => {
    expect(() => parseConfig({ ...base, chat: { ...chat, accounts: [{ account: 'ghost' }] } })).toThrow(
      /chat\.accounts\.0\.account.*unknown account "ghost"/s,
    );
    expect(() => parseConfig({ ...base, chat: { ...chat, channel: { ...chat.channel, secret: 'plain' } } })).toThrow(
      /chat\.channel\.secret/,
    );
    expect(() => parseConfig({ ...base, chat: { ...chat, webhook: 'x' } })).toThrow(/webhook/);
    expect(() => parseConfig({ ...base, chat: { ...chat, accounts: [{ account: 'clinic' }, { account: 'clinic' }] } })).toThrow(
      /listed twice/,
    );
    expect(() => parseConfig({ ...base, chat: { ...chat, amojoUrl: 'http://amojo.example.com' } })).toThrow(/https/);
  });

  it("amojo's host follows the account's domain; an override or the account's own base URL wins", () => {
    expect(amojoBaseUrl({}, { domain: 'amocrm.ru' })).toBe('https://amojo.amocrm.ru');
    expect(amojoBaseUrl({}, { domain: 'kommo.com' })).toBe('https://amojo.kommo.com');
    expect(amojoBaseUrl({}, { domain: 'amocrm.ru', baseUrl: 'http://127.0.0.1:8090/' })).toBe('http://127.0.0.1:8090');
    expect(amojoBaseUrl({ amojoUrl: 'https://amojo.example.org/' }, { domain: 'amocrm.ru', baseUrl: 'http://127.0.0.1:1' })).toBe(
      'https://amojo.example.org',
    );
  });
});
