/**
 * The fuzz suite's raw HTTP client and generators. The client is node:http, not fetch: the
 * generators send what fetch would refuse or fix up (any method, chunked bodies without a
 * length, broken header values are kept out only where Node itself refuses them), and a 413
 * answered before the body is read must still be seen as an answer, not a write error.
 */
import fc from 'fast-check';
import { request } from 'node:http';

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Send the body chunked (no content-length), so the gateway counts it while reading. */
  chunked: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request; resolves with the answer even when the server stopped reading the body early. */
export function send(base: string, r: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: r.method,
        path: r.path,
        headers: { ...r.headers, ...(r.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(r.body.length) }) },
        agent: false,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (e) => reject(e));
      },
    );
    // A refusal before the body is read closes the connection: the rest of our write fails (EPIPE,
    // ECONNRESET). That is the gateway's answer, not an error, once the response has arrived.
    req.on('error', (e) => {
      if (!answered) setTimeout(() => (answered ? undefined : reject(e)), 200);
    });
    if (r.body.length > 0) req.write(r.body);
    req.end();
  });
}

/** Bytes that are not UTF-8: lone continuation bytes, truncated sequences, overlongs, surrogates. */
export const brokenUtf8 = fc
  .tuple(
    fc.string({ maxLength: 40 }),
    fc.constantFrom([0x80], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff, 0xfe]),
    fc.string({ maxLength: 40 }),
  )
  .map(([a, bad, b]) => Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)]));

/** Byte-level mutations of a real body: truncate, flip, insert, delete, duplicate. */
export function mutateBytes(base: Buffer): fc.Arbitrary<Buffer> {
  const pos = fc.nat({ max: Math.max(0, base.length) });
  return fc.oneof(
    pos.map((p) => base.subarray(0, p)),
    fc.tuple(pos, fc.integer({ min: 0, max: 255 })).map(([p, b]) => {
      const c = Buffer.from(base);
      if (p < c.length) c[p] = b;
      return c;
    }),
    fc
      .tuple(pos, fc.uint8Array({ maxLength: 16 }))
      .map(([p, ins]) => Buffer.concat([base.subarray(0, p), Buffer.from(ins), base.subarray(p)])),
    fc.tuple(pos, fc.nat({ max: 64 })).map(([p, n]) => Buffer.concat([base.subarray(0, p), base.subarray(p + n)])),
    fc.constant(Buffer.concat([base, base])),
  );
}

type Json = unknown;

/** Structure-aware JSON mutation: replace or drop the value at a random path, or wrap the whole. */
export function mutateJson(base: Json): fc.Arbitrary<Json> {
  const paths: Array<Array<string | number>> = [];
  const walk = (v: Json, at: Array<string | number>) => {
    paths.push(at);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
  };
  walk(base, []);
  const edit = (path: Array<string | number>, value: Json | typeof DROP): Json => {
    const copy = structuredClone(base);
    if (path.length === 0) return value === DROP ? null : value;
    let parent = copy as Record<string | number, Json>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
    const last = path[path.length - 1] as string | number;
    if (value === DROP) {
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last];
    } else parent[last] = value;
    return copy;
  };
  const odd = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(null, '', 0, -1, 1e308, '9'.repeat(40), [], {}, 'ｆｕｌｌｗｉｄｔｈ', '\u0000', '<script>'),
  );
  return fc.oneof(
    fc.tuple(fc.constantFrom(...paths), odd).map(([p, v]) => edit(p, v)),
    fc.constantFrom(...paths).map((p) => edit(p, DROP)),
    fc.constant([base, base]),
    fc.constant({ wrapped: base }),
  );
}
const DROP = Symbol('drop');

/** Structure-aware form mutation: drop, replace or repeat a field, or add an unknown one. */
export function mutateForm(base: string): fc.Arbitrary<string> {
  const entries = [...new URLSearchParams(base)];
  const idx = fc.nat({ max: Math.max(0, entries.length - 1) });
  const anyText = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('', '0', '-1', 'null', '[]', '%', '%ZZ', '9'.repeat(30)));
  const out = (e: Array<[string, string]>) => new URLSearchParams(e).toString();
  return fc.oneof(
    idx.map((i) => out(entries.filter((_, j) => j !== i))),
    fc.tuple(idx, anyText).map(([i, v]) => out(entries.map((e, j) => (j === i ? [e[0], v] : e)))),
    fc.tuple(idx, anyText).map(([i, k]) => out(entries.map((e, j) => (j === i ? [k, e[1]] : e)))),
    idx.map((i) => out([...entries, ...entries.filter((_, j) => j === i)])),
    fc.tuple(anyText, anyText).map(([k, v]) => out([...entries, [k, v]])),
  );
}
