/**
 * The switches for what amoCRM leaves vague or contradicts itself on: the `query` search mode, the
 * refresh-token grace rule, and the lost-answer fault (a write applied, its answer never delivered).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { call, INTEG, seedBasic, world, type World } from './support.ts';

let w: World;
afterEach(async () => {
  await w?.sb.close();
});

const json = (method: string, body: unknown) => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('search modes', () => {
  async function setup(mode?: 'normalising' | 'literal' | 'noisy') {
    w = await world({ limits: { perIntegrationPerSecond: 1000, perAccountPerSecond: 1000 }, ...(mode ? { search: mode } : {}) });
    seedBasic(w.sb);
    const t = (await w.login()).access_token;
    const phone = (value: string) => ({ field_code: 'PHONE', values: [{ value, enum_code: 'MOB' }] });
    const r = await w.api('POST', '/api/v4/contacts', t, [
      { first_name: 'Иван', last_name: 'Петров', custom_fields_values: [phone('+7 (916) 123-45-67')] },
      { name: 'Мария', custom_fields_values: [phone('+79035550011')] },
    ]);
    const [ivan, maria] = r.json._embedded.contacts.map((c: { id: number }) => c.id) as [number, number];
    const found = async (q: string): Promise<number[]> =>
      ((await w.api('GET', `/api/v4/contacts?query=${encodeURIComponent(q)}`, t)).json?._embedded.contacts ?? []).map(
        (c: { id: number }) => c.id,
      );
    return { t, ivan, maria, found };
  }

  it('the default is literal: a plain case-insensitive substring of the stored text, no phone normalising', async () => {
    const { ivan, maria, found } = await setup();
    expect(w.sb.admin.searchMode()).toBe('literal');
    expect(await found('89161234567')).toEqual([]); // 8… vs +7 (…): different text
    expect(await found('+79161234567')).toEqual([]);
    expect(await found('(916) 123')).toEqual([ivan]);
    expect(await found('иван')).toEqual([ivan]);
    expect(await found('+79035550011')).toEqual([maria]);
    expect(await found('9035550011')).toEqual([maria]);
  });

  it('normalising: a phone-like query also matches by its last 10 digits', async () => {
    const { ivan, maria, found } = await setup('normalising');
    expect(await found('89161234567')).toEqual([ivan]);
    expect(await found('+7 916 123 45 67')).toEqual([ivan]);
    expect(await found('89035550011')).toEqual([maria]);
    expect(await found('nobody')).toEqual([]);
  });

  it('noisy: the literal hits plus one unrelated entity (also when nothing matches)', async () => {
    const { ivan, maria, found } = await setup('noisy');
    expect(await found('иван')).toEqual([ivan, maria]);
    expect(await found('+79035550011')).toEqual([ivan, maria]); // in id order: the extra hit is mixed in, not appended
    expect(await found('nobody')).toHaveLength(1);
    // the other filters still hold: the extra hit is one they keep
    const r = await w.api('GET', `/api/v4/contacts?query=nobody&filter[id]=${ivan}`, (await w.login()).access_token);
    expect(r.json._embedded.contacts.map((c: { id: number }) => c.id)).toEqual([ivan]);
  });

  it('the admin switch, in process and over HTTP; an unknown mode is refused', async () => {
    const { ivan, found } = await setup();
    w.sb.admin.setSearchMode('normalising');
    expect(await found('89161234567')).toEqual([ivan]);
    expect((await call(`${w.sb.url}/_sandbox/search`, json('PUT', { mode: 'literal' }))).json).toEqual({ mode: 'literal' });
    expect(await found('89161234567')).toEqual([]);
    expect((await call(`${w.sb.url}/_sandbox/search`)).json).toEqual({ mode: 'literal' });
    expect((await call(`${w.sb.url}/_sandbox/search`, json('PUT', { mode: 'fuzzy' }))).status).toBe(400);
  });
});

describe('refresh-token grace knob', () => {
  const refresh = (rt: string) =>
    w.token({
      client_id: INTEG.clientId,
      client_secret: INTEG.clientSecret,
      grant_type: 'refresh_token',
      refresh_token: rt,
      redirect_uri: INTEG.redirectUri,
    });

  it('on (default, Kommo): the old refresh token works again until the new pair is used', async () => {
    w = await world();
    const p1 = await w.login();
    expect((await refresh(p1.refresh_token)).status).toBe(200);
    expect((await refresh(p1.refresh_token)).status).toBe(200);
    expect(w.sb.admin.tokenEndpointCount({ grant: 'refresh_token', outcome: 'ok_grace' })).toBe(1);
  });

  it('off (RU docs: "можно обменять только один раз"): a second exchange of the same refresh token → 401 revoked', async () => {
    w = await world({ refreshGrace: false });
    const p1 = await w.login();
    const r1 = await refresh(p1.refresh_token);
    expect(r1.status).toBe(200);
    const again = await refresh(p1.refresh_token);
    expect(again.status).toBe(401);
    expect(again.json.hint).toBe('Token has been revoked');
    // the new pair works as usual
    expect((await w.api('GET', '/api/v4/account', r1.json.access_token)).status).toBe(200);
    expect((await refresh(r1.json.refresh_token)).status).toBe(200);
  });

  it('switchable at run time over the admin API', async () => {
    w = await world();
    expect((await call(`${w.sb.url}/_sandbox/refresh-grace`)).json).toEqual({ on: true });
    expect((await call(`${w.sb.url}/_sandbox/refresh-grace`, json('PUT', { on: false }))).status).toBe(200);
    const p1 = await w.login();
    expect((await refresh(p1.refresh_token)).status).toBe(200);
    expect((await refresh(p1.refresh_token)).status).toBe(401);
    w.sb.admin.setRefreshGrace(true);
    const p2 = await w.login();
    expect((await refresh(p2.refresh_token)).status).toBe(200);
    expect((await refresh(p2.refresh_token)).status).toBe(200);
  });
});

describe('lost-answer fault', () => {
  it('drop: POST /api/v4/leads creates the lead, the client sees the connection die', async () => {
    w = await world();
    const t = (await w.login()).access_token;
    w.sb.admin.setFaults([{ path: '/api/v4/leads', method: 'POST', lostAnswerRate: 1, times: 1 }]);
    await expect(w.api('POST', '/api/v4/leads', t, [{ name: 'landed' }])).rejects.toThrow();
    expect(w.sb.admin.entities('leads').map((l) => l.name)).toEqual(['landed']);
    expect(w.sb.admin.count({ method: 'POST', route: '/api/v4/leads', status: 'dropped' })).toBe(1);
    // the rule is retired after `times`: the next add is answered
    expect((await w.api('POST', '/api/v4/leads', t, [{ name: 'answered' }])).status).toBe(200);
  });

  it('hold (set over HTTP): the lead is created, the answer never comes (client timeout)', async () => {
    w = await world();
    const t = (await w.login()).access_token;
    const set = await call(
      `${w.sb.url}/_sandbox/faults`,
      json('PUT', { rules: [{ path: '/api/v4/leads', method: 'POST', lostAnswerRate: 1, lostAnswer: 'hold' }] }),
    );
    expect(set.json).toEqual([{ path: '/api/v4/leads', method: 'POST', lostAnswerRate: 1, lostAnswer: 'hold' }]);
    const r = fetch(`${w.sb.url}/api/v4/leads`, {
      ...json('POST', [{ name: 'held' }]),
      headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
      signal: AbortSignal.timeout(400),
    });
    await expect(r).rejects.toThrow(/abort|timeout/i);
    expect(w.sb.admin.entities('leads').map((l) => l.name)).toEqual(['held']);
    expect(w.sb.admin.count({ method: 'POST', route: '/api/v4/leads', status: 'timeout' })).toBe(1);
    // reads are not matched by the method filter
    expect((await w.api('GET', '/api/v4/leads', t)).status).toBe(200);
  });

  it('a refused write under the fault still loses its answer and writes nothing', async () => {
    w = await world();
    const t = (await w.login()).access_token;
    w.sb.admin.setFaults([{ path: '/api/v4/leads', lostAnswerRate: 1 }]);
    await expect(w.api('POST', '/api/v4/leads', t, [{ price: 'free' }])).rejects.toThrow();
    expect(w.sb.admin.entities('leads')).toEqual([]);
  });
});
