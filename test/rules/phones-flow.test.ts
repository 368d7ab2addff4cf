/**
 * normalizePhones through the rule flow and the batch writer against the sandbox: the contacts of
 * one worker batch go out ≤ 50 per PATCH, and the same events seen again once written (the echo)
 * write nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountSchema, pullSchema } from '../../lib/amocrm/client/schema.ts';
import type { WebhookEvent } from '../../lib/amocrm/webhooks/types.ts';
import { parseConfig } from '../../lib/config/index.ts';
import type { FlowContext } from '../../lib/ingest/flows.ts';
import { rulesSchema } from '../../lib/rules/config.ts';
import { runRule } from '../../lib/rules/flow.ts';
import { resolveRules } from '../../lib/rules/resolve.ts';
import { MemoryRulesState } from '../../lib/rules/state.ts';
import { BatchWriter } from '../../lib/rules/writer.ts';
import { demoSeed } from '../../infra/local/sandbox/demo.ts';
import { captureLog } from '../ingest/support.ts';
import { fastClient, sandbox, type TestSandbox } from '../client/support.ts';

let sb: TestSandbox;
beforeEach(async () => {
  sb = await sandbox({ fast: true });
  sb.admin.seed(demoSeed());
});
afterEach(async () => {
  await sb.close();
});

const account = parseConfig({
  integrations: [{ id: 'main', clientId: 'client-0000-0001', clientSecret: { secret: 's' }, redirectUri: 'https://gw.example/cb' }],
  accounts: [{ id: 'local', integration: 'main', subdomain: 'sandbox', domain: 'amocrm.ru' }],
}).accounts[0]!;

const contactEvent = (contact: Record<string, unknown>, i: number): WebhookEvent =>
  ({
    kind: 'contact.update',
    entity: 'contact',
    action: 'update',
    family: 'account',
    account: { subdomain: 'sandbox' },
    entityId: contact.id as number,
    data: contact as never,
    raw: {},
    index: i,
    path: `contacts[update][${i}]`,
    idempotencyKey: `sha256:cd:contact:${String(contact.id)}:update:${i}`,
  }) as WebhookEvent;

const phones = (c: Record<string, unknown>) =>
  (c.custom_fields_values as Array<{ field_code: string | null; values: Array<{ value: string }> }>).find((f) => f.field_code === 'PHONE')!
    .values;

describe('normalizePhones through the flow and the batch writer', () => {
  it('60 contacts of one batch → 2 PATCHes (≤ 50 each); the same contacts seen again write nothing', async () => {
    const { contacts: ids } = sb.admin.seed({
      contacts: Array.from({ length: 60 }, (_, i) => ({
        name: `Контакт ${i}`,
        custom_fields_values: [
          { field_code: 'PHONE', values: [{ value: `8 (916) 000-${String(i).padStart(2, '0')}-00`, enum_code: 'MOB' }] },
        ],
      })),
    }) as { contacts: number[] };
    const { client } = fastClient(sb);
    const api = client.forAccount({ clientId: 'client-test', accountKey: 'acc1' });
    const schema = AccountSchema.from(await pullSchema(api));
    const compiled = resolveRules(
      rulesSchema.parse({ list: [{ id: 'phones', account: 'local', when: { contact: 'updated' }, then: [{ normalizePhones: {} }] }] }),
      () => schema,
    );
    const deps = { rules: compiled, client: () => api, state: new MemoryRulesState() };
    const { log } = captureLog();
    const ctx = (stepKey: string): FlowContext => ({
      account,
      requestId: 'r1',
      receivedAt: Date.now(),
      stepKey,
      log,
      now: () => Date.now(),
    });
    const writer = new BatchWriter(20);
    const current = () => sb.admin.entities('contacts').filter((c) => ids.includes(c.id as number));
    const run = (round: string) =>
      Promise.all(current().map((c, i) => runRule(compiled.rules[0]!, contactEvent(c, i), ctx(`${round}-${i}`), deps, writer)));

    await run('first');
    expect(sb.admin.count({ method: 'PATCH', route: '/api/v4/contacts' })).toBe(2);
    expect(current().map((c) => phones(c))).toEqual(
      Array.from({ length: 60 }, (_, i) => [
        expect.objectContaining({ value: `+7916000${String(i).padStart(2, '0')}00`, enum_code: 'MOB' }),
      ]),
    );
    // The update webhooks of those PATCHes: the contacts as amoCRM now shows them.
    await run('echo');
    expect(sb.admin.count({ method: 'PATCH', route: '/api/v4/contacts' })).toBe(2);
  });
});
