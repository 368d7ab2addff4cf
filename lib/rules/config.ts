/**
 * The `rules` config section (README.md here): declarative amoCRM automations, written with the
 * names people see in amoCRM ("Продажи / Новая заявка", field names, task types, users, tags).
 * This module only checks the *shape*; resolve.ts turns names into ids against the pulled
 * dictionary (`schema pull` → schema/<account>.json) and refuses unknown or ambiguous names.
 */
import * as z from 'zod';
import { PHONE_COUNTRIES } from '../common/phone-countries.ts';

const accountId = z.string().regex(/^[a-z][a-z0-9-]{0,40}$/, 'an account id as in accounts[].id');

/** A name as people see it, or amoCRM's numeric id. */
export const nameOrId = z.union([z.string().min(1).max(200), z.number().int().positive()]);
export type NameOrId = z.infer<typeof nameOrId>;

/** "Pipeline / Status" (split on the last " / "), or a status id. */
export const statusRef = nameOrId;

const when = z.union([
  z
    .object({
      /** The stage changed; `from`/`to` narrow it ("Pipeline / Status" or a status id). */
      lead: z.literal('status'),
      from: statusRef.optional(),
      to: statusRef.optional(),
    })
    .strict(),
  z.object({ lead: z.enum(['added', 'responsible', 'updated']) }).strict(),
  z.object({ contact: z.enum(['added', 'updated']) }).strict(),
]);
export type RuleWhen = z.infer<typeof when>;

const fieldCondition = z.union([
  z.object({ field: nameOrId, equals: z.union([z.string(), z.number(), z.boolean()]) }).strict(),
  z.object({ field: nameOrId, contains: z.string().min(1) }).strict(),
  z.object({ field: nameOrId, empty: z.boolean() }).strict(),
]);
export type FieldCondition = z.infer<typeof fieldCondition>;

const ruleIf = z
  .object({
    /** The entity is in one of these stages ("Pipeline / Status" or id). */
    status: z.array(statusRef).min(1).optional(),
    /** The entity is in one of these pipelines (name or id). */
    pipeline: z.array(nameOrId).min(1).optional(),
    /** Tags the entity must all have / must have none of. */
    tags: z
      .object({ all: z.array(nameOrId).min(1).optional(), none: z.array(nameOrId).min(1).optional() })
      .strict()
      .optional(),
    /** Custom-field conditions, all must hold. */
    fields: z.array(fieldCondition).min(1).optional(),
    /** The responsible user is one of these (name, e-mail or id). */
    responsible: z.array(nameOrId).min(1).optional(),
    /** The lead was created by one of these sources (`source_id`; ids: sources are not in the dictionary). */
    source: z.array(z.number().int().positive()).min(1).optional(),
  })
  .strict();
export type RuleIf = z.infer<typeof ruleIf>;

const responsible = z.union([
  z.literal('current'),
  z.literal('pipeline'),
  z.object({ user: nameOrId }).strict(),
  z.object({ roundRobin: z.array(nameOrId).min(2) }).strict(),
]);

const due = z.union([
  /** Seconds from the event (AmoWebhookHandler's `complete_till`). */
  z
    .object({
      in: z
        .number()
        .int()
        .min(0)
        .max(366 * 86_400),
    })
    .strict(),
  /** The next `HH:MM` in the account's time zone (today if still ahead, else tomorrow), plus `days`. */
  z
    .object({
      at: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM, 24-hour'),
      days: z.number().int().min(0).max(366).optional(),
    })
    .strict(),
]);

/** A template: `{{name}}`, `{{id}}`, `{{price}}`, `{{status}}`, `{{pipeline}}`, `{{field:Имя поля}}`. */
const template = z.string().max(10_000);

const transferAction = z
  .object({
    /** Our account id the lead goes to. */
    to: accountId,
    /** Where a new lead is created there: "Pipeline / Status" (or a status id) of the target account. */
    status: statusRef,
    /** Reuse an open lead of the contact in that pipeline instead of creating one. Default true. */
    reuseOpen: z.boolean().default(true),
    /** Source lead field → target lead field (names or ids), copied when the source has a value. */
    fields: z.record(z.string().min(1), nameOrId).default({}),
    /** Target lead field that receives the source lead's id (the back-link; also what syncBack reads). */
    linkField: nameOrId,
    /** Source lead field that receives the target lead's id. */
    backLinkField: nameOrId.optional(),
    /** Tags added to the target lead. */
    tags: z.array(z.string().min(1)).default([]),
    /** Note types copied from the source lead to the target lead and from the source contact to the target contact (e.g. "common", "call_in", "call_out"). */
    notes: z.array(z.string().regex(/^[a-z_]{1,40}$/, 'an amoCRM note_type')).default([]),
    /** Move the source lead here once the target lead exists ("Pipeline / Status" of the source account). */
    moveSourceTo: statusRef.optional(),
  })
  .strict();

const syncBackAction = z
  .object({
    /** Our account id of the origin lead. */
    to: accountId,
    /** This lead's field holding the origin lead's id (the transfer's `linkField`). */
    linkField: nameOrId,
    /** Copy this lead's price to the origin lead when won. Default true. */
    price: z.boolean().default(true),
  })
  .strict();

const action = z.union([
  z
    .object({
      task: z
        .object({
          type: nameOrId,
          text: template.min(1),
          due,
          responsible: responsible.default('current'),
        })
        .strict(),
    })
    .strict(),
  /** Field name → template value; null clears the field. */
  z.object({ setFields: z.record(z.string().min(1), z.union([template, z.number(), z.boolean(), z.null()])) }).strict(),
  z.object({ addTags: z.array(z.string().min(1)).min(1) }).strict(),
  z.object({ removeTags: z.array(nameOrId).min(1) }).strict(),
  z.object({ moveTo: statusRef }).strict(),
  z.object({ note: z.object({ text: template.min(1) }).strict() }).strict(),
  /** Copy the lead into another of our accounts (transfer.ts): contact found by verified phone/e-mail or created, lead reused or created. */
  z.object({ transfer: transferAction }).strict(),
  /** The linked lead of another account follows this one when it is won (with its price) or lost (transfer.ts). */
  z.object({ syncBack: syncBackAction }).strict(),
  /** Contact rules: the contact's phones → E.164; numbers without a country code are read in `defaultCountry`. */
  z
    .object({
      normalizePhones: z
        .object({
          defaultCountry: z
            .string()
            .refine((c) => PHONE_COUNTRIES.has(c), 'a two-letter country code libphonenumber knows, e.g. RU')
            .default('RU'),
        })
        .strict(),
    })
    .strict(),
]);
export type RuleActionInput = z.infer<typeof action>;

export const ruleSchema = z
  .object({
    /** Stable kebab-case id: part of the idempotency step and of the logs. */
    id: z.string().regex(/^[a-z][a-z0-9-]{0,34}$/, 'rule ids are kebab-case, at most 35 characters'),
    /** Our account id (accounts[].id) the rule watches. */
    account: accountId,
    description: z.string().max(500).optional(),
    when,
    if: ruleIf.optional(),
    then: z.array(action).min(1).max(20),
  })
  .strict();
export type RuleInput = z.infer<typeof ruleSchema>;

export const rulesAccountSchema = z
  .object({
    /** The pulled dictionary (`amo-gateway schema pull`); default `schema/<account>.json`. */
    dictionary: z.string().min(1).optional(),
    /** IANA time zone of the account (due times "at HH:MM"). Default Europe/Moscow. */
    timeZone: z
      .string()
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'an IANA time zone, e.g. Europe/Moscow')
      .default('Europe/Moscow'),
    /** The pipeline's responsible user (task responsible `pipeline`): pipeline name or id → user. */
    pipelineResponsible: z.record(z.string(), nameOrId).optional(),
  })
  .strict();

export const rulesSchema = z
  .object({
    /** Per account: where its dictionary is, its time zone. */
    accounts: z.record(accountId, rulesAccountSchema).default({}),
    /** Rule executions per lead within `hopWindowSeconds` after which the rules stop for that lead (a loop). */
    hopLimit: z.number().int().min(1).max(100).default(5),
    hopWindowSeconds: z.number().int().min(10).max(86_400).default(300),
    list: z.array(ruleSchema).default([]),
  })
  .strict()
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    r.list.forEach((rule, i) => {
      if (seen.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['list', i, 'id'], message: `duplicate rule id "${rule.id}"` });
      seen.add(rule.id);
    });
  });
export type RulesConfig = z.output<typeof rulesSchema>;
export type RulesConfigInput = z.input<typeof rulesSchema>;
export type RulesAccountConfig = z.output<typeof rulesAccountSchema>;
