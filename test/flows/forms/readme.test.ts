/** The config example of lib/flows/forms/README.md ("A form's config") is a valid `forms` section. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { formsSchema } from '../../../lib/flows/forms/config.ts';

it("the README's form config example parses with the forms schema", () => {
  const text = readFileSync(new URL('../../../lib/flows/forms/README.md', import.meta.url), 'utf8');
  const section = text.slice(text.indexOf("### A form's config"));
  const json = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  expect(json).toBeDefined();
  const parsed = formsSchema.safeParse((JSON.parse(json ?? '{}') as { forms: unknown }).forms);
  expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
  expect(parsed.data?.list.map((f) => f.id)).toEqual(['contact', 'tilda-landing', 'partner-api']);
});
