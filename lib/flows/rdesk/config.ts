/**
 * The `rdesk` config section: which account RDESK (Zdravnitsa) pushes go to, how they are
 * authenticated, and where each RDESK field lands on the lead (README.md in this folder).
 *
 * A field target is the lead's `price`, a custom field id (number) or a custom field name
 * (string, resolved through the account's field dictionary; an unknown or ambiguous name parks the
 * push with `bad-mapping`, it never writes somewhere else). Only the keys given are written.
 */
import * as z from 'zod';
import { secretRefSchema } from '../../config/secret-ref.ts';
import { BOOKED_KEYS, DEFAULT_TEMPLATES, MC_KEYS, STATUS_CODES, type Templates } from './labels.ts';

/** `"price"` (the lead's budget), a custom field id, or a custom field name. */
export const fieldTargetSchema = z.union([z.literal('price'), z.number().int().positive(), z.string().min(1).max(255)]);
export type FieldTarget = z.infer<typeof fieldTargetSchema>;

const ipv4Cidr = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(\d|[12]\d|3[0-2]))?$/, 'an IPv4 address or CIDR block (a.b.c.d or a.b.c.d/n)')
  .refine(
    (s) =>
      s
        .split('/')[0]!
        .split('.')
        .every((o) => Number(o) <= 255),
    'octets are 0–255',
  );

const placeSchema = z.object({ pipelineId: z.number().int().positive(), statusId: z.number().int().positive() }).strict();

export const rdeskAccountSchema = z
  .object({
    /** The configured account (`accounts[].id`) the pushes write to. */
    account: z.string().min(1),
    /**
     * The secret path token of this account's RDESK URLs, `/zdrav/booked/{token}` and
     * `/zdrav/mc/{token}` (a reference; compared in constant time by the worker). Two RDESK
     * accounts must use different secrets.
     */
    token: secretRefSchema,
    /** Source IPs allowed (IPv4 / CIDR); absent = any. A push from elsewhere is parked `ip-not-allowed`. */
    allowIps: z.array(ipv4Cidr).min(1).optional(),
    /** The zone `YYYY-MM-DD` dates are read in (IANA). */
    timeZone: z
      .string()
      .default('Europe/Moscow')
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'an IANA time zone, e.g. Europe/Moscow'),
    fields: z
      .object({
        booked: z.partialRecord(z.enum(BOOKED_KEYS), fieldTargetSchema).default({}),
        mc: z.partialRecord(z.enum(MC_KEYS), fieldTargetSchema).default({}),
      })
      .strict()
      .default({ booked: {}, mc: {} }),
    statusLabels: z.partialRecord(z.enum(STATUS_CODES), z.string().min(1)).default({}),
    itemStatusLabels: z.record(z.string(), z.string().min(1)).default({}),
    templates: z
      .partialRecord(z.enum(Object.keys(DEFAULT_TEMPLATES) as [keyof Templates, ...Array<keyof Templates>]), z.string())
      .default({}),
    /** No lead with the push's lead_id: park `lead-not-found` (default) or create it here. */
    leadNotFound: z
      .discriminatedUnion('action', [
        z.object({ action: z.literal('park') }).strict(),
        placeSchema.extend({ action: z.literal('create') }).strict(),
      ])
      .default({ action: 'park' }),
    /**
     * mock-lead-id mode (a test account fed with production lead ids): lead_id N is the lead named
     * exactly `ID_N`, created here when missing.
     */
    mockLeadId: placeSchema.partial().strict().optional(),
    /** How long a lead read from amoCRM is trusted without a new read (seconds). */
    leadCacheSeconds: z.number().int().min(0).max(3600).default(60),
  })
  .strict();
export type RdeskAccountConfig = z.output<typeof rdeskAccountSchema>;

export const rdeskSchema = z
  .object({ accounts: z.array(rdeskAccountSchema).min(1) })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Map<string, number>();
    c.accounts.forEach((a, i) => {
      const prev = seen.get(a.token.secret);
      if (prev !== undefined)
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'token'], message: `rdesk.accounts[${prev}] already uses this token secret` });
      seen.set(a.token.secret, i);
    });
  });
export type RdeskConfig = z.output<typeof rdeskSchema>;
