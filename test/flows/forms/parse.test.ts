/** The three content types a form post arrives in → its fields (lib/flows/forms/ingress/parse.ts). */
import { describe, expect, it } from 'vitest';
import { MAX_FIELDS, parseFormBody } from '../../../lib/flows/forms/ingress/parse.ts';
import { multipart } from './support.ts';

const FORM = 'application/x-www-form-urlencoded';
const fieldsOf = async (ct: string, body: string | Buffer) => {
  const r = await parseFormBody(ct, typeof body === 'string' ? Buffer.from(body) : body);
  if (!r.ok) throw new Error(`not parsed: ${r.message}`);
  return Object.fromEntries(r.fields);
};
const refusal = async (ct: string | undefined, body: string | Buffer) => {
  const r = await parseFormBody(ct, typeof body === 'string' ? Buffer.from(body) : body);
  if (r.ok) throw new Error('parsed');
  return r;
};

describe('application/x-www-form-urlencoded', () => {
  it('decodes + as a space and %2B as a plus, in UTF-8 (Cyrillic, emoji)', async () => {
    expect(await fieldsOf(`${FORM}; charset=UTF-8`, 'name=%D0%90%D0%BD%D0%BD%D0%B0+%F0%9F%98%80&phone=%2B7+999')).toEqual({
      name: ['Анна 😀'],
      phone: ['+7 999'],
    });
  });

  it('keeps every value of a repeated name in order; `x[]` is `x`; other brackets stay in the name', async () => {
    expect(await fieldsOf(FORM, 'services[]=a&services[]=b&tag=1&tag=2&form[phone]=9&__proto__=x')).toEqual({
      services: ['a', 'b'],
      tag: ['1', '2'],
      'form[phone]': ['9'],
    });
  });

  it('refuses a malformed escape, bytes that are not UTF-8, and more than the field limit', async () => {
    expect(await refusal(FORM, 'a=%E0%A4%A')).toMatchObject({ kind: 'malformed', message: expect.stringContaining('percent-encoding') });
    expect(await refusal(FORM, Buffer.from([0x61, 0x3d, 0xff, 0xfe]))).toMatchObject({
      kind: 'malformed',
      message: expect.stringContaining('UTF-8'),
    });
    const many = Array.from({ length: MAX_FIELDS + 1 }, (_, i) => `f${i}=1`).join('&');
    expect(await refusal(FORM, many)).toMatchObject({ kind: 'malformed', message: expect.stringContaining(`${MAX_FIELDS}`) });
    expect(await refusal(FORM, `${'n'.repeat(101)}=1`)).toMatchObject({ kind: 'malformed' });
  });
});

describe('multipart/form-data', () => {
  it('reads the fields (unicode, repeated); a file part is read and thrown away, counted', async () => {
    const m = multipart(
      [
        ['name', 'Вера Звонкова'],
        ['tag', 'a'],
        ['tag', 'b'],
      ],
      { name: 'cv', filename: 'cv.txt', content: 'not carried' },
    );
    const r = await parseFormBody(m.contentType, m.body);
    expect(r).toMatchObject({ ok: true, files: 1 });
    if (!r.ok) return;
    expect(Object.fromEntries(r.fields)).toEqual({ name: ['Вера Звонкова'], tag: ['a', 'b'] });
  });

  it('refuses a body without its boundary or cut short', async () => {
    expect(await refusal('multipart/form-data', 'x')).toMatchObject({ kind: 'malformed' });
    const m = multipart([['name', 'x']]);
    expect(await refusal(m.contentType, m.body.subarray(0, 40))).toMatchObject({ kind: 'malformed' });
  });
});

describe('application/json', () => {
  it('takes an object of scalars and arrays of scalars (numbers, booleans as text; null as empty)', async () => {
    expect(await fieldsOf('application/json', JSON.stringify({ name: 'Анна', n: 3, ok: true, none: null, tags: ['a', 2] }))).toEqual({
      name: ['Анна'],
      n: ['3'],
      ok: ['true'],
      none: [''],
      tags: ['a', '2'],
    });
  });

  it('refuses nesting, a top-level array or scalar, and text that is not JSON', async () => {
    expect(await refusal('application/json', '{"a":{"b":1}}')).toMatchObject({
      kind: 'malformed',
      message: expect.stringContaining('"a"'),
    });
    expect(await refusal('application/json', '{"a":[[1]]}')).toMatchObject({ kind: 'malformed' });
    expect(await refusal('application/json', '[1]')).toMatchObject({ kind: 'malformed' });
    expect(await refusal('application/json', '"x"')).toMatchObject({ kind: 'malformed' });
    expect(await refusal('application/json', '{')).toMatchObject({ kind: 'malformed' });
  });
});

it('any other content type (or none) is unsupported', async () => {
  expect(await refusal('text/plain', 'a=1')).toMatchObject({ kind: 'unsupported' });
  expect(await refusal(undefined, 'a=1')).toMatchObject({ kind: 'unsupported' });
});
