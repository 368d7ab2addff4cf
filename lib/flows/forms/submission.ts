/**
 * A site-form submission as the `forms` function queues it and the worker reads it: the body of
 * the envelope on the `forms` queue (route `forms`, content type application/json). The function
 * has already validated it against the form's config; the worker checks the shape again (a message
 * that does not parse is parked `invalid-payload`, never guessed at).
 *
 * The contact values are normalised at the edge (phone E.164 in the config's default country,
 * e-mail trimmed and lower-cased), so the worker, the dedupe and the repeat window compare like
 * with like.
 */
import * as z from '../../common/zod.ts';
import { formIdSchema } from './shared.ts';

export const SUBMISSION_VERSION = 1 as const;

const upTo = (n: number) => z.optional(z.string().check(z.maxLength(n)));

export const submissionSchema = z.strictObject({
  v: z.literal(SUBMISSION_VERSION),
  /** Ours (UUID), answered to the sender in the 202; the idempotency key of the submission. */
  id: z.string().check(z.uuid()),
  form: formIdSchema,
  /** Epoch ms the request was answered. */
  receivedAt: z.number().check(z.int(), z.nonnegative()),
  /** Every submitted field (trimmed; the honeypot and the key removed), as strings; repeated names joined with ", ". */
  fields: z.record(z.string(), z.string()),
  /** The normalised contact channels (at least one unless the form waives it). */
  contact: z.strictObject({
    phone: z.optional(z.string().check(z.regex(/^\+[1-9]\d{6,14}$/, 'E.164'))),
    email: z.optional(z.string().check(z.email())),
    name: upTo(255),
  }),
  /** Tracking values found (form fields first, then the page URL's query), by capture key (`utm_source`, `_ym_uid`, …). */
  capture: z._default(z.record(z.string(), z.string()), {}),
  /** What Unsorted's form metadata wants; also shown in notes. No secrets. */
  meta: z._default(
    z.strictObject({
      ip: upTo(64),
      userAgent: upTo(1000),
      /** The page the form was posted from (`Referer`, or a `page_url` field). */
      page: upTo(2000),
      referer: upTo(2000),
    }),
    {},
  ),
});
export type Submission = z.output<typeof submissionSchema>;
