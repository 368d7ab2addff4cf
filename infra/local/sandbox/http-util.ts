/**
 * Response builders and body/query parsers shared by the sandbox modules. Content types follow
 * docs/amocrm-protocol.md#hosts: `application/hal+json` on success, `application/problem+json` on error.
 */
import qs from 'qs';
import type { SbRequest, SbResponse } from './types.ts';

export const HAL = 'application/hal+json';
export const PROBLEM = 'application/problem+json';

export function hal(status: number, body: unknown, headers: Record<string, string> = {}): SbResponse {
  return { status, headers: { 'content-type': HAL, ...headers }, body: JSON.stringify(body) };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): SbResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function problem(status: number, body: Record<string, unknown>): SbResponse {
  return { status, headers: { 'content-type': PROBLEM }, body: JSON.stringify(body) };
}

export function html(status: number, text: string, headers: Record<string, string> = {}): SbResponse {
  return { status, headers: { 'content-type': 'text/html; charset=utf-8', ...headers }, body: text };
}

/** 204 with no body at all (docs/amocrm-protocol.md#empty-answers-and-if-modified-since). */
export function noContent(): SbResponse {
  return { status: 204 };
}

/** Bracketed query (`filter[statuses][0][status_id]=…`) parsed with limits that fit amoCRM shapes. */
export function parseQuery(req: SbRequest): Record<string, unknown> {
  return qs.parse(req.query.toString(), { depth: 10, arrayLimit: 500, parameterLimit: 10_000 }) as Record<string, unknown>;
}

/** Form-urlencoded body, same limits. */
export function parseForm(body: Buffer): Record<string, unknown> {
  return qs.parse(body.toString('utf8'), { depth: 10, arrayLimit: 500, parameterLimit: 10_000 }) as Record<string, unknown>;
}

export type JsonParse = { ok: true; value: unknown; empty: boolean } | { ok: false };

export function parseJson(body: Buffer): JsonParse {
  const text = body.toString('utf8').trim();
  if (text === '') return { ok: true, value: undefined, empty: true };
  try {
    return { ok: true, value: JSON.parse(text) as unknown, empty: false };
  } catch {
    return { ok: false };
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A query value that may be given once (`x=1`), as a list (`x[]=1&x[]=2`) or indexed (`x[0]=1`). */
export function queryList(v: unknown): string[] {
  if (v === undefined || v === null || v === '') return [];
  if (Array.isArray(v)) return v.flatMap((x) => queryList(x));
  if (isRecord(v)) return Object.values(v).flatMap((x) => queryList(x));
  return [String(v)];
}

export function queryInts(v: unknown): number[] | undefined {
  const list = queryList(v);
  if (list.length === 0) return undefined;
  return list.map((x) => Number(x)).filter((n) => Number.isInteger(n));
}

export function queryString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}
