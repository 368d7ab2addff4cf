/**
 * The cross-account actions' config, resolved (README.md here: transfer, syncBack). Names of the
 * source side resolve against the rule's account dictionary, names of the target side against the
 * target account's, so a typo on either side fails the load with the rule's path.
 */
import type { FieldDefinition } from '../amocrm/client/custom-fields.ts';
import type { AccountSchema } from '../amocrm/client/schema.ts';
import type { NoteType } from '../amocrm/entities.ts';
import type { RuleActionInput } from './config.ts';
import { fieldOf, statusOf, type StatusId } from './resolve.ts';

export interface TransferAction {
  kind: 'transfer';
  /** Our account id of the target. */
  to: string;
  /** Where a new target lead is created. */
  status: Required<StatusId>;
  reuseOpen: boolean;
  /** Source lead field → target lead field. */
  fields: Array<{ from: FieldDefinition; to: FieldDefinition }>;
  /** Target lead field holding the source lead's id. */
  linkField: FieldDefinition;
  /** Source lead field holding the target lead's id. */
  backLinkField?: FieldDefinition;
  tags: string[];
  /** Note types copied (lead → lead, contact → contact). */
  notes: NoteType[];
  moveSourceTo?: Required<StatusId>;
}

export interface SyncBackAction {
  kind: 'syncBack';
  /** Our account id of the origin lead. */
  to: string;
  /** This (the rule's) lead's field holding the origin lead's id. */
  linkField: FieldDefinition;
  price: boolean;
}

export type CrossAccountAction = TransferAction | SyncBackAction;

const fullStatus = (schema: AccountSchema, ref: string | number): Required<StatusId> => {
  const s = statusOf(schema, ref);
  if (s.pipelineId === undefined) throw new Error(`status ${s.statusId} is in every pipeline: name it "Pipeline / Status"`);
  return { statusId: s.statusId, pipelineId: s.pipelineId };
};

const numberField = (f: FieldDefinition, where: string): FieldDefinition => {
  if (!['text', 'numeric', 'textarea', 'url'].includes(f.type))
    throw new Error(`${where}: field "${f.name}" is ${f.type}; a lead id needs a text, numeric, textarea or url field`);
  return f;
};

/** Resolves one transfer / syncBack action of a rule of `account` (throws with the problem). */
export function compileCrossAccount(
  a: Extract<RuleActionInput, { transfer: unknown } | { syncBack: unknown }>,
  account: string,
  schema: AccountSchema,
  other: (account: string) => AccountSchema,
): CrossAccountAction {
  if ('transfer' in a) {
    const t = a.transfer;
    if (t.to === account) throw new Error(`"to" names the rule's own account "${account}"`);
    const target = other(t.to);
    const out: TransferAction = {
      kind: 'transfer',
      to: t.to,
      status: fullStatus(target, t.status),
      reuseOpen: t.reuseOpen,
      fields: Object.entries(t.fields).map(([from, to]) => ({ from: fieldOf(schema, 'leads', from), to: fieldOf(target, 'leads', to) })),
      linkField: numberField(fieldOf(target, 'leads', t.linkField), 'linkField'),
      tags: [...t.tags],
      notes: t.notes as NoteType[],
    };
    if (t.backLinkField !== undefined) out.backLinkField = numberField(fieldOf(schema, 'leads', t.backLinkField), 'backLinkField');
    if (t.moveSourceTo !== undefined) out.moveSourceTo = fullStatus(schema, t.moveSourceTo);
    return out;
  }
  const b = a.syncBack;
  if (b.to === account) throw new Error(`"to" names the rule's own account "${account}"`);
  other(b.to);
  return { kind: 'syncBack', to: b.to, linkField: numberField(fieldOf(schema, 'leads', b.linkField), 'linkField'), price: b.price };
}
