/**
 * RDESK push bodies → validated elements. The body is a JSON array; each element is its own unit:
 * one that fails validation gets its own error (index and reason) while its siblings go on.
 *
 * Lenient where RDESK needs it: `lead_id` string or number; `YYYY-MM-DD` dates (read in the
 * configured zone by the mapping); ISO times with `Z`; decimal strings in bills; `""` as missing.
 * Strict where safety needs it: the five booking status codes (exact), integer money, integer ids.
 * Unknown keys are ignored (RDESK may add some).
 */
import * as z from '../../common/zod.ts';

/** `""` (and null) → undefined, so an empty value reads as missing. */
const blank = (v: unknown): unknown => (v === '' || v === null ? undefined : v);
const opt = <T extends z.ZodMiniType>(t: T) => z.preprocess(blank, z.optional(t));
const int = () => z.number().check(z.int());

/** A lead id: a positive integer, sent as a JSON number or a string of digits. */
const leadId = z.union([
  z.number().check(z.int(), z.positive()),
  z.pipe(z.string().check(z.regex(/^\d{1,15}$/, 'lead_id is digits')), z.transform(Number)),
]);
/** Integer money (roubles): a fraction is refused rather than rounded. */
const money = z.number().check(z.int('money is whole roubles'), z.nonnegative());
/** An integer that may come as a string of digits (the old gateway coerced docNum the same way). */
const intish = z.union([int(), z.pipe(z.string().check(z.regex(/^-?\d{1,15}$/)), z.transform(Number))]);
/** A decimal amount: a number or a decimal string (`"147966.3"`). */
const decimal = z.union([z.number(), z.pipe(z.string().check(z.regex(/^-?\d+(\.\d+)?$/, 'a decimal number')), z.transform(Number))]);

/** `YYYY-MM-DD` (a calendar date) or an ISO-8601 time with `Z` or an offset. */
export type RdeskTime = { kind: 'date'; date: string } | { kind: 'instant'; ms: number };
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const time = z.pipe(
  z.string(),
  z.transform((s, ctx): RdeskTime => {
    if (DATE.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s))
      return { kind: 'date', date: s };
    if (INSTANT.test(s) && !Number.isNaN(Date.parse(s))) return { kind: 'instant', ms: Date.parse(s) };
    ctx.issues.push({ code: 'custom', message: `"${s.slice(0, 40)}" is neither YYYY-MM-DD nor an ISO time with a zone`, input: s });
    return z.NEVER;
  }),
);

export const bookingSchema = z.object({
  lead_id: leadId,
  status: z.enum(['booked', 'checkin', 'checkout', 'cancel', 'waiting']),
  bookedAt: opt(time),
  checkin: opt(time),
  checkout: opt(time),
  money: z.object({ total: money, paid: money }),
  id: z.number().check(z.int(), z.positive()),
  docNum: opt(intish),
  billData: z._default(
    z.array(z.object({ billNum: opt(z.union([z.string(), z.number()])), billSum: opt(decimal), billPaidSum: opt(decimal) })),
    [],
  ),
  extData: z._default(
    z.object({
      guests: z._default(
        z.array(
          z.object({
            fio: opt(z.string()),
            birthday: opt(time),
            stayCount: opt(int()),
            roomCategory: opt(z.string()),
            ageGroup: opt(z.string()),
            cure: opt(z.string()),
            uid: opt(z.string()),
            billNum: opt(intish),
          }),
        ),
        [],
      ),
    }),
    { guests: [] },
  ),
});
export type Booking = z.output<typeof bookingSchema>;

const itemStatus = opt(z.string().check(z.maxLength(40)));
const treatment = z.object({
  item_id: opt(int()),
  status: itemStatus,
  action: opt(z.string()),
  visit_date: opt(time),
  pay: opt(z.boolean()),
  price: opt(money),
  paid: opt(z.boolean()),
});
const lab = z.object({
  lab_item_id: opt(int()),
  status: itemStatus,
  lab: opt(z.string()),
  visit_date: opt(time),
  pay: opt(z.boolean()),
  price: opt(money),
  paid: opt(z.boolean()),
  treatment_item_id: opt(int()),
});
export const mcSchema = z.object({
  lead_id: leadId,
  createdAt: opt(time),
  id: z.number().check(z.int(), z.positive()),
  treatments: z._default(z.array(treatment), []),
  labs: z._default(z.array(lab), []),
  packets: z._default(
    z.array(
      z.object({
        packet_id: opt(int()),
        packet: opt(z.string()),
        pay: opt(z.boolean()),
        price: opt(money),
        paid: opt(z.boolean()),
        treatments: z._default(z.array(treatment), []),
      }),
    ),
    [],
  ),
  complex: z._default(
    z.array(
      z.object({
        complex_id: opt(int()),
        complex: opt(z.string()),
        pay: opt(z.boolean()),
        price: opt(money),
        paid: opt(z.boolean()),
        treatments: z._default(z.array(treatment), []),
        labs: z._default(z.array(lab), []),
      }),
    ),
    [],
  ),
});
export type McPush = z.output<typeof mcSchema>;
export type McTreatment = z.output<typeof treatment>;
export type McLab = z.output<typeof lab>;

export type RdeskKind = 'booked' | 'mc';

export type ElementResult<T> = { index: number; ok: true; value: T } | { index: number; ok: false; error: string };

export type ParsedBody =
  { ok: true; elements: Array<ElementResult<Booking>> | Array<ElementResult<McPush>> } | { ok: false; error: string };

/** The body as an array of validated elements; `ok: false` when it is not a JSON array at all. */
export function parseRdeskBody(kind: RdeskKind, body: Buffer | string): ParsedBody {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return { ok: false, error: 'the body is not JSON' };
  }
  if (!Array.isArray(json)) return { ok: false, error: `the body is a JSON ${json === null ? 'null' : typeof json}, not an array` };
  const schema = kind === 'booked' ? bookingSchema : mcSchema;
  const elements = json.map((el, index) => {
    const r = schema.safeParse(el);
    if (r.success) return { index, ok: true as const, value: r.data };
    const issues = r.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(element)'}: ${i.message}`)
      .join('; ');
    return { index, ok: false as const, error: `element ${index}: ${issues}` };
  });
  return { ok: true, elements } as ParsedBody;
}
