/**
 * The disconnect hook acts only on a known amoCRM account id. A validly signed hook proves it is
 * amoCRM's for our integration — not that it names one of our accounts: a public integration is
 * installed in accounts we do not serve, and each of their uninstalls is signed with our secret.
 * With one configured account whose amoCRM id is known nowhere (no `accountId` in the config, no
 * `account_id` claim learnt from its token), such a hook must not disconnect it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../functions/oauth.ts';
import { createOAuth, disconnectSignature } from '../../lib/amocrm/oauth/index.ts';
import { silentLog, type Log } from '../../lib/common/log.ts';
import { parseConfig, type Config } from '../../lib/config/index.ts';
import { staticSecretSource } from '../../lib/config/secrets.ts';
import { CLIENT_SECRET_NAME, restEvent, startWorld, type World } from './support.ts';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

class LogRecorder implements Log {
  readonly lines: Array<{ level: string; message: string; extra?: Record<string, unknown> }> = [];
  debug(): void {}
  info(message: string, extra?: Record<string, unknown>): void {
    this.lines.push({ level: 'info', message, ...(extra ? { extra } : {}) });
  }
  warn(message: string, extra?: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', message, ...(extra ? { extra } : {}) });
  }
  error(message: string, extra?: Record<string, unknown>): void {
    this.lines.push({ level: 'error', message, ...(extra ? { extra } : {}) });
  }
}

/** Installs 'clinic', then forgets the amoCRM id learnt from its token (a token without the claim). */
async function installWithUnknownId(w: World): Promise<void> {
  await w.install();
  const store = w.newStore();
  const rec = await store.get({ clientId: w.clientId, accountKey: 'clinic' });
  expect(rec?.amoAccountId).toBe(32720107);
  const { version, amoAccountId: _learnt, ...rest } = rec!;
  await store.put(rest, version);
  expect((await store.get({ clientId: w.clientId, accountKey: 'clinic' }))?.amoAccountId).toBeUndefined();
}

function engine(w: World, log: Log, config: Config = w.config) {
  return createOAuth({
    config,
    store: w.newStore(),
    secrets: staticSecretSource({ [CLIENT_SECRET_NAME]: w.clientSecret }),
    fetch: w.fetch.fetch,
    clock: w.clock,
    log,
  });
}

function hook(w: World, amoAccountId: string) {
  return restEvent('/oauth/disconnect', {
    client_uuid: w.clientId,
    account_id: amoAccountId,
    signature: disconnectSignature(w.clientId, amoAccountId, w.clientSecret),
  });
}

describe('disconnect hook with an account whose amoCRM id is unknown', () => {
  it('a valid hook for another amoCRM account: 200 ignored, logged, our only account stays active', async () => {
    world = await startWorld();
    const w = world;
    await installWithUnknownId(w);
    const log = new LogRecorder();
    const o = engine(w, log);
    const before = await o.lifecycle.read('clinic');

    const res = await createHandler({ install: o.install, disconnect: o.disconnect, log: silentLog })(hook(w, '555000'));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'ignored' });
    expect(await o.lifecycle.read('clinic')).toEqual(before);
    expect(before?.status).toBe('active');
    expect(w.metrics.total('AccountDisconnected')).toBe(0);
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', extra: expect.objectContaining({ amoAccountId: '555000' }) as unknown }),
    );
  });

  it('the config names the id: the hook for it still disconnects the account', async () => {
    world = await startWorld();
    const w = world;
    await installWithUnknownId(w);
    const raw = { ...w.config, accounts: w.config.accounts.map((a) => ({ ...a, accountId: 32720107 })) };
    const o = engine(w, silentLog, parseConfig(raw));
    expect(
      await o.disconnect.verifyDisconnect({
        client_uuid: w.clientId,
        account_id: '555000',
        signature: disconnectSignature(w.clientId, '555000', w.clientSecret),
      }),
    ).toEqual({ changed: false });
    expect((await o.lifecycle.read('clinic'))?.status).toBe('active');
    expect(
      await o.disconnect.verifyDisconnect({
        client_uuid: w.clientId,
        account_id: '32720107',
        signature: disconnectSignature(w.clientId, '32720107', w.clientSecret),
      }),
    ).toEqual({ account: 'clinic', changed: true });
    expect((await o.lifecycle.read('clinic'))?.status).toBe('disconnected');
  });
});
