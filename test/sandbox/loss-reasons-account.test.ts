/** Lead loss reasons (`/api/v4/leads/loss_reasons`, `loss_reason_id`, `with=loss_reason`) and account `with=entity_names`. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { world, seedBasic, type World } from './support.ts';

let w: World;
let t: string;
beforeEach(async () => {
  w = await world({ limits: { perIntegrationPerSecond: 1000, perAccountPerSecond: 1000 } });
  seedBasic(w.sb);
  t = (await w.login()).access_token;
});
afterEach(async () => {
  await w.sb.close();
});

const paths = (r: { json: { 'validation-errors': Array<{ errors: Array<{ path: string; code: string }> }> } }) =>
  r.json['validation-errors'].flatMap((e) => e.errors.map((x) => `${x.path}:${x.code}`));

describe('loss reasons', () => {
  it('a fresh account lists seeded reasons; get by id; unknown id → 204', async () => {
    const r = await w.api('GET', '/api/v4/leads/loss_reasons', t);
    expect(r.status).toBe(200);
    const reasons = r.json._embedded.loss_reasons as Array<Record<string, unknown>>;
    expect(reasons.length).toBeGreaterThan(0);
    expect(Object.keys(reasons[0]!)).toEqual(['id', 'name', 'sort', 'created_at', 'updated_at', '_links']);
    const one = await w.api('GET', `/api/v4/leads/loss_reasons/${String(reasons[0]!.id)}`, t);
    expect(one.json).toEqual(reasons[0]);
    expect((await w.api('GET', '/api/v4/leads/loss_reasons/1', t)).status).toBe(204);
  });

  it('loss_reason_id is taken on close-lost (143) and shown by with=loss_reason; elsewhere or unknown it is refused; reopening drops it', async () => {
    w.sb.admin.seed({
      lossReasons: [
        { id: 4203748, name: 'Пропала потребность' },
        { id: 4203749, name: 'Дорого' },
      ],
    });
    const id = (await w.api('POST', '/api/v4/leads', t, [{ name: 'Deal' }])).json._embedded.leads[0].id;
    const open = await w.api('PATCH', `/api/v4/leads/${id}`, t, { loss_reason_id: 4203748 });
    expect(open.status).toBe(400);
    expect(paths(open)).toEqual(['loss_reason_id:InvalidValue']);
    expect(paths(await w.api('PATCH', `/api/v4/leads/${id}`, t, { status_id: 143, loss_reason_id: 1 }))).toEqual([
      'loss_reason_id:NotSupportedChoice',
    ]);
    expect((await w.api('PATCH', `/api/v4/leads/${id}`, t, { status_id: 143, loss_reason_id: 4203748 })).status).toBe(200);
    const got = await w.api('GET', `/api/v4/leads/${id}?with=loss_reason`, t);
    expect(got.json.loss_reason_id).toBe(4203748);
    expect(got.json._embedded.loss_reason).toEqual([
      {
        id: 4203748,
        name: 'Пропала потребность',
        sort: 100000,
        created_at: expect.any(Number),
        updated_at: expect.any(Number),
        _links: { self: { href: `${w.sb.url}/api/v4/leads/loss_reasons/4203748` } },
      },
    ]);
    expect((await w.api('GET', `/api/v4/leads/${id}`, t)).json._embedded.loss_reason).toBeUndefined();
    // Already lost: the reason can be changed without moving the lead.
    expect((await w.api('PATCH', '/api/v4/leads', t, [{ id, loss_reason_id: 4203749 }])).status).toBe(200);
    expect((await w.api('PATCH', `/api/v4/leads/${id}`, t, { status_id: 1001 })).status).toBe(200);
    const reopened = await w.api('GET', `/api/v4/leads/${id}?with=loss_reason`, t);
    expect(reopened.json).toMatchObject({ loss_reason_id: null, closed_at: null, _embedded: { loss_reason: [] } });
    // A lead added straight into 143 may carry its reason.
    expect(
      (await w.api('POST', '/api/v4/leads', t, [{ name: 'Lost', status_id: 143, pipeline_id: 100, loss_reason_id: 4203749 }])).status,
    ).toBe(200);
  });
});

describe('account with=entity_names (account-info)', () => {
  it('only with the parameter; the documented shape', async () => {
    expect((await w.api('GET', '/api/v4/account', t)).json.entity_names).toBeUndefined();
    const r = await w.api('GET', '/api/v4/account?with=entity_names,amojo_id', t);
    expect(r.json.amojo_id).toEqual(expect.any(String));
    const leads = r.json.entity_names.leads;
    expect(Object.keys(leads)).toEqual(['ru', 'en', 'es']);
    expect(Object.keys(leads.ru.singular_form).sort()).toEqual([
      'accusative',
      'dative',
      'default',
      'genitive',
      'instrumental',
      'prepositional',
    ]);
    expect(Object.keys(leads.ru.plural_form).sort()).toEqual([
      'accusative',
      'dative',
      'default',
      'genitive',
      'instrumental',
      'prepositional',
    ]);
    expect(leads.en).toEqual({ singular_form: { default: 'lead' }, plural_form: { default: 'leads' }, gender: 'f' });
    expect(leads.ru.gender).toMatch(/^[mf]$/);
  });
});
