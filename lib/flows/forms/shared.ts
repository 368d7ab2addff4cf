/**
 * What the forms config shares with the code that runs in the functions (the ingress, the worker):
 * kept apart from config.ts, whose zod schemas (classic, checked at synth and by the CLI) a
 * function never builds (infra/aws/README.md, "What each function bundles").
 */
import * as z from '../../common/zod.ts';

/** The `{form_id}` of the URL. */
export const formIdSchema = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a form id is lower-case letters, digits, _ and - (≤ 64)'));

/** The tracking values people ask for, and the lead field each lands in by default (a field name or amoCRM's field code). */
export const DEFAULT_CAPTURE: Readonly<Record<string, string>> = {
  utm_source: 'UTM_SOURCE',
  utm_medium: 'UTM_MEDIUM',
  utm_campaign: 'UTM_CAMPAIGN',
  utm_content: 'UTM_CONTENT',
  utm_term: 'UTM_TERM',
  roistat_visit: 'ROISTAT',
  yclid: 'YCLID',
  gclid: 'GCLID',
  _ym_uid: '_YM_UID',
};
