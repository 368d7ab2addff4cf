/**
 * A form post's body → its fields, for the three content types site builders and hand-written
 * forms send. Every value is a string; a name given more than once keeps every value in order.
 *
 * - `application/x-www-form-urlencoded`: qs with explicit limits (below); `+` is a space, a
 *   malformed `%` escape or bytes that are not UTF-8 refuse the body instead of keeping it
 *   half-decoded.
 * - `multipart/form-data`: busboy, fields only. File parts are read to their end and thrown away
 *   (counted in `files`): a queued submission is one SQS message, amoCRM's lead/contact fields hold
 *   text, and storing uploads would be a second product. A form that needs the file gets its
 *   field reported missing by validation when it declared it `required`.
 * - `application/json`: one object whose values are scalars (string, number, boolean, null) or
 *   arrays of scalars; anything nested is refused (a form has no nested fields).
 *
 * A name ending in `[]` (PHP-style checkbox groups, `services[]`) is read without the brackets;
 * any other bracket stays part of the name (`form[phone]` is the field `form[phone]`).
 *
 * qs and busboy are loaded at the first body of their type (`import()`): a site posts one content
 * type, so a container of the forms function loads one parser or none (JSON), not both at its
 * cold start.
 */
import type { Busboy } from 'busboy';
import type { IParseOptions } from 'qs';
import { mediaType } from '../../../common/media-type.ts';

/** Field name → its values in the order sent. */
export type FormFields = Map<string, string[]>;

export type ParsedBody =
  { ok: true; fields: FormFields; files: number } | { ok: false; kind: 'unsupported' | 'malformed'; message: string };

export const FORM_MEDIA_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'application/json'] as const;
export type FormMediaType = (typeof FORM_MEDIA_TYPES)[number];

/** At most this many fields (values) in one post: far above any real form. *assumed* */
export const MAX_FIELDS = 200;
/** Longest field name. */
export const MAX_NAME_LENGTH = 100;

/**
 * qs options. `depth: 0` and `parseArrays: false` keep every name literal (a form's fields are
 * flat); `duplicates: 'combine'` keeps every value of a repeated name; `throwOnLimitExceeded`
 * makes too many fields a refusal, not a silent truncation.
 */
export const FORM_QS_OPTIONS = {
  depth: 0,
  strictDepth: false,
  parseArrays: false,
  arrayLimit: MAX_FIELDS,
  parameterLimit: MAX_FIELDS,
  throwOnLimitExceeded: true,
  duplicates: 'combine',
  allowPrototypes: false,
  allowDots: false,
  comma: false,
  charset: 'utf-8',
  charsetSentinel: false,
  interpretNumericEntities: false,
} as const satisfies IParseOptions;

class Malformed extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(body: Uint8Array): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new Malformed('the body is not valid UTF-8');
  }
}

function decodeComponent(s: string): string {
  const spaced = s.indexOf('+') === -1 ? s : s.replace(/\+/g, ' ');
  if (spaced.indexOf('%') === -1) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    throw new Malformed('malformed percent-encoding (a "%" not followed by two hex digits, or bytes that are not UTF-8)');
  }
}

function fieldName(raw: string): string {
  const name = raw.endsWith('[]') ? raw.slice(0, -2) : raw;
  if (name === '') throw new Malformed('a field without a name');
  if (name.length > MAX_NAME_LENGTH) throw new Malformed(`a field name longer than ${MAX_NAME_LENGTH} characters`);
  return name;
}

class Collector {
  readonly fields: FormFields = new Map();
  private count = 0;
  add(rawName: string, value: string): void {
    if (++this.count > MAX_FIELDS) throw new Malformed(`more than ${MAX_FIELDS} fields`);
    const name = fieldName(rawName);
    const list = this.fields.get(name);
    if (list) list.push(value);
    else this.fields.set(name, [value]);
  }
}

async function parseUrlencoded(body: Uint8Array): Promise<FormFields> {
  const { default: qs } = await import('qs');
  const c = new Collector();
  let parsed: Record<string, unknown>;
  try {
    parsed = qs.parse(text(body), { ...FORM_QS_OPTIONS, decoder: decodeComponent });
  } catch (e) {
    if (e instanceof Malformed) throw e;
    // qs throws RangeError when a limit is exceeded.
    throw new Malformed(`more than ${MAX_FIELDS} fields`);
  }
  for (const [name, v] of Object.entries(parsed)) {
    for (const one of Array.isArray(v) ? v : [v]) c.add(name, typeof one === 'string' ? one : '');
  }
  return c.fields;
}

function parseJson(body: Uint8Array): FormFields {
  let data: unknown;
  try {
    data = JSON.parse(text(body));
  } catch (e) {
    if (e instanceof Malformed) throw e;
    throw new Malformed('the body is not JSON');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Malformed('the JSON body must be an object of fields');
  const c = new Collector();
  const scalar = (name: string, v: unknown): string => {
    if (v === null) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new Malformed(`field "${name}": a value must be a string, number, boolean, null or an array of them`);
  };
  for (const [name, v] of Object.entries(data as Record<string, unknown>)) {
    if (Array.isArray(v)) for (const one of v) c.add(name, scalar(name, one));
    else c.add(name, scalar(name, v));
  }
  return c.fields;
}

async function parseMultipart(contentType: string, body: Uint8Array): Promise<{ fields: FormFields; files: number }> {
  const { default: busboy } = await import('busboy');
  return new Promise((resolve, reject) => {
    const c = new Collector();
    let files = 0;
    let failed: Error | undefined;
    const fail = (e: Error) => {
      failed ??= e;
    };
    let bb: Busboy;
    try {
      bb = busboy({
        headers: { 'content-type': contentType },
        defParamCharset: 'utf8',
        // The route's body limit bounds the whole; these bound the parts.
        limits: { fields: MAX_FIELDS, files: MAX_FIELDS, parts: MAX_FIELDS * 2, fieldNameSize: MAX_NAME_LENGTH },
      });
    } catch (e) {
      reject(new Malformed(`multipart body: ${(e as Error).message}`));
      return;
    }
    bb.on('field', (name, value, info) => {
      if (info.nameTruncated) return fail(new Malformed(`a field name longer than ${MAX_NAME_LENGTH} characters`));
      if (info.valueTruncated) return fail(new Malformed(`field "${name}" is too long`));
      try {
        c.add(name, value);
      } catch (e) {
        fail(e as Error);
      }
    });
    bb.on('file', (_name, stream) => {
      files++;
      stream.resume(); // read and discarded: fields only
    });
    bb.on('fieldsLimit', () => fail(new Malformed(`more than ${MAX_FIELDS} fields`)));
    bb.on('partsLimit', () => fail(new Malformed(`more than ${MAX_FIELDS * 2} parts`)));
    bb.on('filesLimit', () => fail(new Malformed(`more than ${MAX_FIELDS} file parts`)));
    bb.on('error', (e: unknown) => reject(new Malformed(`multipart body: ${e instanceof Error ? e.message : String(e)}`)));
    bb.on('close', () => (failed ? reject(failed) : resolve({ fields: c.fields, files })));
    bb.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
}

/** The body's fields, or why it cannot be read (`unsupported`: 415, `malformed`: 400). */
export async function parseFormBody(contentType: string | undefined, body: Uint8Array): Promise<ParsedBody> {
  const media = mediaType(contentType);
  try {
    switch (media) {
      case 'application/x-www-form-urlencoded':
        return { ok: true, fields: await parseUrlencoded(body), files: 0 };
      case 'application/json':
        return { ok: true, fields: parseJson(body), files: 0 };
      case 'multipart/form-data': {
        const r = await parseMultipart(contentType ?? '', body);
        return { ok: true, ...r };
      }
      default:
        return {
          ok: false,
          kind: 'unsupported',
          message: `content type ${media ?? '(none)'} is not one of ${FORM_MEDIA_TYPES.join(', ')}`,
        };
    }
  } catch (e) {
    if (e instanceof Malformed) return { ok: false, kind: 'malformed', message: e.message };
    throw e;
  }
}
