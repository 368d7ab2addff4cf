/**
 * Text templates of rule actions: `{{name}}`, `{{id}}`, `{{price}}`, `{{status}}`,
 * `{{pipeline}}`, `{{responsible}}`, `{{field:Имя поля}}`. Field names are resolved when the rules
 * are loaded (an unknown one fails the load); rendering is pure and reads only the event's data.
 */
import type { CustomFieldValue } from '../amocrm/entities.ts';
import type { FieldDefinition } from '../amocrm/client/custom-fields.ts';

export const TEMPLATE_VARS = ['name', 'id', 'price', 'status', 'pipeline', 'responsible'] as const;
export type TemplateVar = (typeof TEMPLATE_VARS)[number];

export type TemplatePart = { text: string } | { var: TemplateVar } | { field: FieldDefinition };
export interface Template {
  source: string;
  parts: TemplatePart[];
}

/** What a template may read: the entity as the event shows it, plus names for ids. */
export interface TemplateScope {
  id: number;
  name?: string | undefined;
  price?: number | undefined;
  custom_fields_values?: CustomFieldValue[] | null | undefined;
  statusName?: string | undefined;
  pipelineName?: string | undefined;
  responsibleName?: string | undefined;
}

const TOKEN = /\{\{\s*([^}]+?)\s*\}\}/g;

/** Parses `source`; `field(name)` resolves `{{field:…}}` (throws on an unknown name). Unknown variables throw. */
export function compileTemplate(source: string, field: (name: string) => FieldDefinition): Template {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const m of source.matchAll(TOKEN)) {
    if (m.index > last) parts.push({ text: source.slice(last, m.index) });
    const token = m[1]!;
    if (token.startsWith('field:')) parts.push({ field: field(token.slice('field:'.length).trim()) });
    else if ((TEMPLATE_VARS as readonly string[]).includes(token)) parts.push({ var: token as TemplateVar });
    else throw new Error(`unknown template variable "{{${token}}}" (known: ${TEMPLATE_VARS.join(', ')}, field:<name>)`);
    last = m.index + m[0].length;
  }
  if (last < source.length) parts.push({ text: source.slice(last) });
  return { source, parts };
}

/** The text of a field as people read it: values joined with ", " (enum labels, not ids). */
export function fieldText(values: CustomFieldValue[] | null | undefined, fieldId: number): string {
  const f = values?.find((v) => v.field_id === fieldId);
  if (!f?.values?.length) return '';
  return f.values
    .map((v) => (v.value === undefined || v.value === null ? '' : String(v.value)))
    .filter((s) => s !== '')
    .join(', ');
}

export function renderTemplate(t: Template, scope: TemplateScope): string {
  return t.parts
    .map((p) => {
      if ('text' in p) return p.text;
      if ('field' in p) return fieldText(scope.custom_fields_values, p.field.id);
      switch (p.var) {
        case 'id':
          return String(scope.id);
        case 'name':
          return scope.name ?? '';
        case 'price':
          return scope.price === undefined ? '' : String(scope.price);
        case 'status':
          return scope.statusName ?? '';
        case 'pipeline':
          return scope.pipelineName ?? '';
        case 'responsible':
          return scope.responsibleName ?? '';
      }
    })
    .join('');
}

/** A template without variables: its text. */
export function isConstant(t: Template): boolean {
  return t.parts.every((p) => 'text' in p);
}
