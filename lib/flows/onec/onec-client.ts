/**
 * 1C's HTTP service, as the old MZPO code called it: `POST <baseUrl><Method>` with a JSON body and
 * HTTP Basic auth; the answer is a JSON object carrying the 1C id (`client_id_1C`,
 * `company_id_1C`, `lead_id_1C`). Errors keep their kind: unreachable / 5xx / timeout is
 * transient (`OnecUnavailableError`), any other non-2xx or an answer without the id is 1C refusing
 * the data (`OnecRefusedError`). Neither message carries the body or the credentials.
 */

export class OnecUnavailableError extends Error {
  override readonly name = 'OnecUnavailableError';
}
export class OnecRefusedError extends Error {
  override readonly name = 'OnecRefusedError';
}

export interface OnecHttpOptions {
  baseUrl: string;
  username: string;
  password: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export class OnecHttpClient {
  constructor(private readonly o: OnecHttpOptions) {}

  /** Calls `method` and returns the string at `idKey` of the answer. */
  async call(method: string, body: Record<string, unknown>, idKey: string): Promise<string> {
    const url = this.o.baseUrl.replace(/\/*$/, '/') + encodeURIComponent(method);
    const auth = Buffer.from(`${this.o.username}:${this.o.password}`).toString('base64');
    let res: Response;
    try {
      res = await (this.o.fetch ?? fetch)(url, {
        method: 'POST',
        headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
    } catch (e) {
      throw new OnecUnavailableError(`1C ${method}: ${e instanceof Error ? e.name : 'error'} (unreachable or timed out)`);
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 500 || res.status === 429 || res.status === 408) throw new OnecUnavailableError(`1C ${method}: HTTP ${res.status}`);
    if (res.status === 401 || res.status === 403)
      throw new OnecUnavailableError(`1C ${method}: HTTP ${res.status} (check the 1C user and password)`);
    if (!res.ok) throw new OnecRefusedError(`1C ${method}: HTTP ${res.status}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new OnecRefusedError(`1C ${method}: the answer is not JSON`);
    }
    const id = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)[idKey] : undefined;
    if ((typeof id !== 'string' && typeof id !== 'number') || String(id).trim() === '')
      throw new OnecRefusedError(`1C ${method}: the answer has no ${idKey}`);
    return String(id).trim();
  }
}
