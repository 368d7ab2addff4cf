/**
 * amojo's answers: the JSON error body every handler throws its way into, and the body readers.
 */
import type * as z from 'zod';
import type { SbRequest, SbResponse } from '../types.ts';

export const JSON_CT = 'application/json';

/** Thrown inside handlers; turned into the JSON error body. */
export class AmojoHttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'AmojoHttpError';
  }
}

export function jsonResponse(status: number, body: unknown): SbResponse {
  return { status, headers: { 'content-type': JSON_CT }, body: JSON.stringify(body) };
}

/**
 * Error body. *assumed* shape: the docs only say "details in the body"; [fcritic]'s gateway reads
 * `error_code`, `error_type`, `error_description` (#errors). error_code = HTTP status here.
 */
export function errorResponse(status: number, type: string, description: string): SbResponse {
  return jsonResponse(status, { error_code: status, error_type: type, error_description: description });
}

export function bad(description: string): AmojoHttpError {
  return new AmojoHttpError(400, 'INVALID_REQUEST_DATA', description);
}

export function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const details = r.error.issues.map((i) => `${[where, ...i.path.map(String)].filter(Boolean).join('.')}: ${i.message}`).join('; ');
  throw new AmojoHttpError(400, 'INVALID_REQUEST_DATA', details);
}

export function jsonBody(req: SbRequest): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(req.body.toString('utf8'));
  } catch {
    throw bad('the body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('the body must be a JSON object');
  return v as Record<string, unknown>;
}

export function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
