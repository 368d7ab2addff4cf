/** amoCRM account / Digital Pipeline webhooks → typed events. See README.md here. */
export { parseAccountWebhook } from './parse.ts';
export { WEBHOOK_QS_OPTIONS } from './form.ts';
export type * from './types.ts';
