/**
 * The `forms` config section (README.md in this folder): each site form posted to
 * `POST /forms/{form_id}` — what it must carry, who may send it, and what it becomes in amoCRM
 * (a contact + lead, or an Unsorted "form" entry). Names are the ones people see in amoCRM
 * (pipeline, status, users, fields, tags); they are resolved against the account's dictionaries
 * and an unknown or ambiguous name parks the submission with its reason, it never writes elsewhere.
 *
 * This module only checks the shape. The ingress (the `forms` function) validates submissions
 * against `fields`; the worker (processor.ts) applies the rest.
 */
import * as z from 'zod';
import { PHONE_COUNTRIES } from '../../common/phone-countries.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';
import { DEFAULT_CAPTURE, formIdSchema } from './shared.ts';

const accountId = z.string().regex(/^[a-z][a-z0-9-]{0,40}$/, 'an account id as in accounts[].id');
/** A form field name as the page posts it (`name`, `utm_source`, `Phone`, `form[phone]` is read as `form[phone]`). */
const fieldName = z.string().min(1).max(100);
/** A name as people see it in amoCRM, or its numeric id. */
const nameOrId = z.union([z.string().min(1).max(200), z.number().int().positive()]);
/** `{field}` is replaced by the submitted value ('' when missing); `{form}` by the form id, `{date}` by the day received (account time zone). */
const template = z.string().min(1).max(2000);
const origin = z
  .string()
  .regex(/^(\*|https?:\/\/[a-z0-9.-]+(:\d{1,5})?)$/, 'an origin is scheme://host[:port] without a path (or * for any)');

export const FIELD_TYPES = ['text', 'phone', 'email', 'number', 'date', 'url', 'checkbox'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** What one submitted field must look like (checked synchronously: a failure is a 400 naming the field). */
const fieldSpec = z
  .object({
    type: z.enum(FIELD_TYPES).default('text'),
    required: z.boolean().default(false),
    /** Characters, after trimming (default 4000; amoCRM text fields hold more, people do not type more). */
    maxLength: z.number().int().min(1).max(65_535).default(4000),
  })
  .strict();
export type FieldSpec = z.output<typeof fieldSpec>;

/** Where a submitted value lands: a contact or lead field (by name or id), converted to that field's type. */
const mappingEntry = z
  .object({
    from: fieldName,
    to: z.enum(['contact', 'lead']),
    field: nameOrId,
  })
  .strict();

const statusPair = z.object({ pipeline: nameOrId, status: nameOrId }).strict();

export const formSchema = z
  .object({
    /** The `{form_id}` of `POST /forms/{form_id}`. */
    id: formIdSchema,
    /** Shown in amoCRM (Unsorted's form name, `{formName}` in templates); default the id. */
    name: z.string().min(1).max(200).optional(),
    account: accountId,
    /** `lead`: a contact and a lead (deduplicated, merged); `unsorted`: an Unsorted "form" entry managers accept by hand. */
    mode: z.enum(['lead', 'unsorted']).default('lead'),

    // --- who may send ------------------------------------------------------------------------
    /** Server-to-server senders send this secret in `X-Form-Key` (compared in constant time); without it the form is public. */
    key: secretRefSchema.optional(),
    /** Browser origins allowed to post with `fetch` (CORS). Plain HTML form posts need none. */
    origins: z.array(origin).default([]),
    /** A hidden field people leave empty and bots fill: such a post is answered like any other, counted (FormSpam) and not queued. */
    honeypot: fieldName.default('_gotcha'),
    /** Posts per client IP and form: more is answered 429 with Retry-After. */
    throttle: z
      .object({
        perMinute: z.number().int().min(1).max(10_000).default(10),
        perHour: z.number().int().min(1).max(100_000).default(100),
      })
      .strict()
      .default({ perMinute: 10, perHour: 100 }),
    /**
     * A thank-you page for plain HTML forms: an accepted post whose request prefers HTML (`Accept`
     * names text/html, as a browser's form navigation does; `fetch` sends *\/*) is answered 303 to
     * this URL instead of the 202 JSON. Refusals stay JSON.
     */
    redirect: z
      .string()
      .url()
      .regex(/^https?:\/\//, 'an http(s) URL')
      .max(2000)
      .optional(),
    /** A site builder's connection probe (Tilda posts `test=test`): answered 200, nothing created. */
    probe: z.object({ field: fieldName, value: z.string() }).strict().default({ field: 'test', value: 'test' }),

    // --- what it must carry ------------------------------------------------------------------
    /** Declared fields and their checks; other fields are kept as sent (templates, tags, mapping). */
    fields: z.record(fieldName, fieldSpec).default({}),
    /** The contact: which fields hold the phone and e-mail, and the contact's name (a template). */
    contact: z
      .object({
        phone: fieldName.default('phone'),
        email: fieldName.default('email'),
        name: template.default('{name}'),
        /** A submission with neither a valid phone nor a valid e-mail is refused (400). Default true. */
        requirePhoneOrEmail: z.boolean().default(true),
        /**
         * Opt-in: once the account's contact index build has finished (and contact webhooks keep
         * it fresh), a person the index does not know is NEW — created without amoCRM's `query`
         * search. Saves ~2 calls per new person; the precondition and the risk are in
         * lib/contacts/README.md "Trusting the finished index". Default false.
         */
        trustFinishedIndex: z.boolean().default(false),
      })
      .strict()
      .default({ phone: 'phone', email: 'email', name: '{name}', requirePhoneOrEmail: true, trustFinishedIndex: false }),

    // --- what it becomes ---------------------------------------------------------------------
    /** Where a new lead is created. `status` default: the pipeline's first status after Unsorted. */
    lead: z
      .object({
        pipeline: nameOrId,
        status: nameOrId.optional(),
        name: template.default('{formName}: {name}'),
        /** A field holding the lead's price. */
        price: fieldName.optional(),
      })
      .strict(),
    /** Responsible user of new contacts and leads: fixed, or in turns. Default: amoCRM's (the token's user). */
    responsible: z.union([z.object({ user: nameOrId }).strict(), z.object({ roundRobin: z.array(nameOrId).min(2) }).strict()]).optional(),
    tags: z
      .object({
        fixed: z.array(z.string().min(1).max(100)).default([]),
        /** A field containing a substring (case-insensitive) → a tag (the old `form_name_site` rules). */
        rules: z.array(z.object({ field: fieldName, contains: z.string().min(1), tag: z.string().min(1).max(100) }).strict()).default([]),
      })
      .strict()
      .default({ fixed: [], rules: [] }),
    /** Submitted field → contact/lead field, converted to the target field's type. */
    mapping: z.array(mappingEntry).default([]),
    /** Tracking value (from the fields, else the page URL's query) → lead field name or code. `false` turns capture off. */
    capture: z.union([z.record(fieldName, nameOrId), z.literal(false)]).default(DEFAULT_CAPTURE),
    /** A note on the lead from the comment field (a template may add more). */
    note: z
      .object({ field: fieldName.default('comment'), template: template.optional() })
      .strict()
      .default({ field: 'comment' }),
    /** Reuse an open lead of the contact instead of creating one, unless excluded here. */
    merge: z
      .object({
        reuseOpenLead: z.boolean().default(true),
        exceptPipelines: z.array(nameOrId).default([]),
        exceptStatuses: z.array(statusPair).default([]),
        /** Leads created longer ago than this are not reused. */
        maxAgeDays: z.number().int().min(1).max(3650).default(30),
      })
      .strict()
      .default({ reuseOpenLead: true, exceptPipelines: [], exceptStatuses: [], maxAgeDays: 30 }),
    /** The same person (phone or e-mail) posting again within this many seconds → the same lead, one more note. */
    repeatWindowSeconds: z.number().int().min(0).max(86_400).default(600),
    /** Unsorted mode: the source shown in amoCRM and the pipeline the entry waits in (default the account's main pipeline). */
    unsorted: z
      .object({
        sourceName: z.string().min(1).max(255).optional(),
        sourceUid: z.string().min(1).max(255).optional(),
        pipeline: nameOrId.optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.mode === 'lead' && f.unsorted) ctx.addIssue({ code: 'custom', path: ['unsorted'], message: 'only for mode "unsorted"' });
    if (f.origins.includes('*') && f.key)
      ctx.addIssue({
        code: 'custom',
        path: ['origins'],
        message: 'a keyed form cannot allow every origin: the key would sit in a public page',
      });
  });
export type FormConfig = z.output<typeof formSchema>;

export const formsSchema = z
  .object({
    /** Country of phones written without a country code ("8 (999) 123-45-67"), ISO 3166 alpha-2. */
    defaultCountry: z
      .string()
      .refine((c) => PHONE_COUNTRIES.has(c), 'a two-letter country code libphonenumber knows, e.g. RU')
      .default('RU'),
    list: z.array(formSchema).min(1),
  })
  .strict()
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.list.forEach((f, i) => {
      if (seen.has(f.id)) ctx.addIssue({ code: 'custom', path: ['list', i, 'id'], message: `duplicate form id "${f.id}"` });
      seen.add(f.id);
    });
  });
export type FormsConfig = z.output<typeof formsSchema>;
