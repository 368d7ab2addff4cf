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
import * as z from 'zod';
import { formIdSchema } from './config.ts';

export const SUBMISSION_VERSION = 1 as const;

export const submissionSchema = z
  .object({
    v: z.literal(SUBMISSION_VERSION),
    /** Ours (UUID), answered to the sender in the 202; the idempotency key of the submission. */
    id: z.string().uuid(),
    form: formIdSchema,
    /** Epoch ms the request was answered. */
    receivedAt: z.number().int().nonnegative(),
    /** Every submitted field (trimmed; the honeypot and the key removed), as strings; repeated names joined with ", ". */
    fields: z.record(z.string(), z.string()),
    /** The normalised contact channels (at least one unless the form waives it). */
    contact: z
      .object({
        phone: z
          .string()
          .regex(/^\+[1-9]\d{6,14}$/, 'E.164')
          .optional(),
        email: z.string().email().optional(),
        name: z.string().max(255).optional(),
      })
      .strict(),
    /** Tracking values found (form fields first, then the page URL's query), by capture key (`utm_source`, `_ym_uid`, …). */
    capture: z.record(z.string(), z.string()).default({}),
    /** What Unsorted's form metadata wants; also shown in notes. No secrets. */
    meta: z
      .object({
        ip: z.string().max(64).optional(),
        userAgent: z.string().max(1000).optional(),
        /** The page the form was posted from (`Referer`, or a `page_url` field). */
        page: z.string().max(2000).optional(),
        referer: z.string().max(2000).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();
export type Submission = z.output<typeof submissionSchema>;
