/**
 * A test 1C: the HTTP service the old MZPO code called (`POST <base><Method>`, JSON, Basic auth),
 * answering as 1C did — EditStudent → `{client_id_1C}`, EditPartner → `{company_id_1C}`,
 * EditApplication → `{lead_id_1C}` (a new uid, or the one sent in `lead_id_1C`). For the tests
 * and `npm start --with-1c`. It keeps every call, and can be taken down (`down = true`: 503) to
 * show retries and parking.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestOnecCall {
  method: string;
  body: Record<string, unknown>;
  at: number;
}

export interface TestOnec {
  /** `http://127.0.0.1:PORT/base/hs/amo/` — what `onec.outbound.baseUrl` points at. */
  baseUrl: string;
  calls: TestOnecCall[];
  /** While true every call answers 503 (1C down). */
  down: boolean;
  close(): Promise<void>;
}

const ID_OF: Record<string, string> = {
  EditStudent: 'client_id_1C',
  EditStudentV2: 'client_id_1C',
  EditPartner: 'company_id_1C',
  EditApplication: 'lead_id_1C',
};
const PREFIX = '/base/hs/amo/';

export async function startTestOnec(
  opts: { username?: string; password?: string; port?: number; log?: (line: string) => void } = {},
): Promise<TestOnec> {
  const expected = `Basic ${Buffer.from(`${opts.username ?? 'amo'}:${opts.password ?? 'onec-test-password'}`).toString('base64')}`;
  const state: TestOnec = { baseUrl: '', calls: [], down: false, close: async () => {} };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const method = decodeURIComponent(url.pathname.startsWith(PREFIX) ? url.pathname.slice(PREFIX.length) : '');
      opts.log?.(`1C ${req.method} ${method}`);
      if (state.down) return send(res, 503, { error: 'Сервис временно недоступен' });
      // 1C's HTTP services answer 401 without the right Basic credentials.
      if (req.headers.authorization !== expected) return send(res, 401, { error: 'Unauthorized' });
      const idKey = ID_OF[method];
      if (req.method !== 'POST' || !idKey) return send(res, 404, { error: `unknown method ${method}` });
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(await read(req)) as Record<string, unknown>;
      } catch {
        return send(res, 400, { error: 'invalid JSON' });
      }
      state.calls.push({ method, body, at: Date.now() });
      const sent = body[idKey];
      send(res, 200, { [idKey]: typeof sent === 'string' && sent !== '' ? sent : randomUUID() });
    })();
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.baseUrl = `http://127.0.0.1:${port}${PREFIX}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
