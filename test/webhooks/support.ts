/** Helpers for the webhook parser tests: fixture bytes, hashes, a PHP-style form encoder. */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { expect } from 'vitest';
import type { ParseResult } from '../../lib/amocrm/webhooks/index.ts';
import { FIXTURES_DIR } from '../support/fixtures.ts';

export const FIXTURE_DIR = `${FIXTURES_DIR}amocrm-webhooks/`;

/** Every account-webhook fixture file name, sorted. */
export const FIXTURES = readdirSync(FIXTURE_DIR)
  .filter((f) => f.startsWith('webhook-') && f.endsWith('.txt'))
  .sort();

/** The exact bytes of a fixture (never trimmed). */
export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(FIXTURE_DIR + name));
}

export function sha256hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Narrow a result to ok (fails the test with the error otherwise). */
export function ok(r: ParseResult): Extract<ParseResult, { ok: true }> {
  if (!r.ok) expect.fail(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r;
}

/** Narrow a result to an error. */
export function err(r: ParseResult): Extract<ParseResult, { ok: false }>['error'] {
  if (r.ok) expect.fail(`expected an error, got ${r.events.length} events`);
  return r.error;
}

/**
 * PHP `urlencode` (what http_build_query uses, and what amoCRM sends): A–Z a–z 0–9 - _ . kept,
 * space → `+`, every other UTF-8 byte → `%XX` upper-case. (Lone surrogates become U+FFFD.)
 */
export function phpUrlencode(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.-]/.test(c)) out += c;
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A nested value the way PHP holds `$_POST`: strings at the leaves, ordered keys. */
export type PhpValue = string | PhpMap;
export type PhpMap = Array<[string, PhpValue]>;

/** PHP `http_build_query` over ordered pairs: `a[b][0][c]=v`, keys and values urlencoded. */
export function httpBuildQuery(map: PhpMap): string {
  const pairs: string[] = [];
  const walk = (prefix: string, v: PhpValue) => {
    if (typeof v === 'string') {
      pairs.push(`${phpUrlencode(prefix)}=${phpUrlencode(v)}`);
      return;
    }
    for (const [k, child] of v) walk(`${prefix}[${k}]`, child);
  };
  for (const [k, v] of map) {
    if (typeof v === 'string') pairs.push(`${phpUrlencode(k)}=${phpUrlencode(v)}`);
    else for (const [ck, child] of v) walk(`${k}[${ck}]`, child);
  }
  return pairs.join('&');
}

/** Nested object (string leaves) → ordered pairs, in the object's key order. */
export type PhpObject = { [key: string]: string | PhpObject };
export function php(o: PhpObject): PhpMap {
  return Object.entries(o).map(([k, v]) => [k, typeof v === 'string' ? v : php(v)]);
}
