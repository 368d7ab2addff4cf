/**
 * The signature gate every `/v2/origin/custom/*` request passes. The rules themselves live in
 * lib/amojo/signing.ts, shared with the real client, so the sandbox and the client cannot drift.
 */
import { verifyRequestSignature, type RequestSignatureFailure } from '../../../../lib/amojo/signing.ts';
import type { SbRequest } from '../types.ts';
import { AmojoHttpError } from './http.ts';
import type { AmojoCtx } from './state.ts';
import type { AmojoChannelConfig } from './types.ts';

const SIGNATURE_ERROR_TYPE: Record<RequestSignatureFailure, string> = {
  missing_header: 'MISSING_HEADER',
  content_type: 'INVALID_CONTENT_TYPE',
  content_md5_malformed: 'INVALID_CONTENT_MD5',
  content_md5_mismatch: 'INVALID_CONTENT_MD5',
  date_malformed: 'INVALID_DATE',
  date_out_of_window: 'EXPIRED_SIGNATURE',
  signature_malformed: 'INVALID_SIGNATURE',
  signature_mismatch: 'INVALID_SIGNATURE',
};

export function requireSignature(ctx: AmojoCtx, req: SbRequest, channel: AmojoChannelConfig): void {
  const r = verifyRequestSignature(channel.secret, {
    method: req.method,
    path: req.path,
    headers: req.headers,
    body: req.body,
    now: ctx.nowMs(),
    ...(ctx.opts.signatureWindowMs !== undefined ? { windowMs: ctx.opts.signatureWindowMs } : {}),
  });
  if (!r.ok) {
    // 403 = bad signature ([chat-api], every method). The wrong Content-Type is refused the same way: it is signed.
    ctx.log(`amojo ${req.method} ${req.path} → 403 ${r.reason}`);
    throw new AmojoHttpError(403, SIGNATURE_ERROR_TYPE[r.reason], r.detail);
  }
}
