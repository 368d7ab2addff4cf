/**
 * The amojo client's typed error family, shaped like the REST client's
 * (lib/amocrm/client/errors.ts): every error extends the pipeline's PipelineError, so a worker
 * that lets one escape gets the right outcome with no mapping code:
 *
 *   defer — AmojoClockSkewError (our clock is off: amojo refuses every signature until it is
 *           fixed), AmojoNotConnectedError (no channel connected for the account: `chat connect`)
 *   retry — AmojoServerError (5xx), AmojoTimeoutError, AmojoNetworkError,
 *           AmojoUnexpectedResponseError on a 2xx/3xx we cannot read
 *   park  — AmojoSignatureError (403 with a sane clock: the channel secret is wrong),
 *           AmojoValidationError (400; AmojoDuplicateMessageError when the msgid was accepted
 *           before), AmojoNotFoundError (404), AmojoUnexpectedResponseError on another 4xx
 *
 * Messages carry the method, the path (no query: it is not signed and holds nothing we need) and
 * amojo's error fields, redacted. Never a header, a body, or the channel secret.
 */
import { redact } from '../common/redact.ts';
import { defer, park, PipelineError, retry, type Outcome } from '../pipeline/outcome.ts';

export type AmojoErrorOutcome = 'defer' | 'retry' | 'park';

/** amojo's error body (docs/amojo-protocol.md#errors; the shape is undocumented, *assumed* from a public client). */
export interface AmojoErrorBody {
  error_code?: number;
  error_type?: string;
  error_description?: string;
}

export interface AmojoErrorInfo {
  method: string;
  /** The request path, without query. */
  path: string;
  status?: number;
  body?: AmojoErrorBody;
  cause?: unknown;
}

export abstract class AmojoError extends PipelineError {
  override readonly name: string = 'AmojoError';
  abstract readonly outcome: AmojoErrorOutcome;
  /** Kebab-case park/defer reason. */
  abstract readonly reason: string;
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  /** amojo's `error_type`, when it sent one. */
  readonly errorType: string | undefined;
  /** Seconds before trying again makes sense (defer), when known. */
  readonly retryAfterSeconds: number | undefined = undefined;

  constructor(info: AmojoErrorInfo, what?: string) {
    const detail = info.body?.error_description ?? info.body?.error_type;
    // No request behind it (AmojoNotConnectedError): the text alone.
    const head = info.method === '' ? 'amojo:' : `amojo ${info.method} ${info.path}${info.status !== undefined ? ` → ${info.status}` : ''}`;
    super(
      redact(`${head}${what ? ` ${what}` : ''}${detail ? `: ${detail}` : ''}`),
      info.cause === undefined ? undefined : { cause: info.cause },
    );
    this.method = info.method;
    this.path = info.path;
    this.status = info.status;
    this.errorType = info.body?.error_type;
  }

  toOutcome(): Outcome {
    switch (this.outcome) {
      case 'defer':
        return defer(this.reason, this.retryAfterSeconds);
      case 'retry':
        return retry(`${this.name}: ${this.message}`);
      case 'park':
        return park(this.reason, `${this.name}: ${this.message}`);
    }
  }
}

/**
 * 403 because our `Date` is outside amojo's 15-minute window (docs/amojo-protocol.md#date-window):
 * the host's clock is off, not the secret. Told apart from a bad signature by amojo's error type
 * when it names an expired signature, or by its own `Date` header being that far from ours.
 * Deferred: every request fails the same way until the clock is fixed, and nothing is wrong with
 * the message.
 */
export class AmojoClockSkewError extends AmojoError {
  override readonly name = 'AmojoClockSkewError';
  readonly outcome = 'defer';
  readonly reason = 'amojo-clock-skew';
  override readonly retryAfterSeconds = 300;
  /** Our clock minus amojo's, when amojo sent a Date (positive: we are ahead). */
  readonly skewMs: number | undefined;
  constructor(info: AmojoErrorInfo, skewMs: number | undefined) {
    super(
      info,
      skewMs === undefined
        ? 'the request Date is outside the signature window (our clock is off)'
        : `our clock is ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? 'ahead of' : 'behind'} amojo's; the signature window is 15 min`,
    );
    this.skewMs = skewMs;
  }
}

/** 403 with a sane clock: the signature does not verify, i.e. the channel secret (or channel id) is wrong. */
export class AmojoSignatureError extends AmojoError {
  override readonly name = 'AmojoSignatureError';
  readonly outcome = 'park';
  readonly reason = 'amojo-bad-signature';
}

/** 400: the request itself is wrong. */
export class AmojoValidationError extends AmojoError {
  override readonly name: string = 'AmojoValidationError';
  readonly outcome = 'park';
  readonly reason: string = 'amojo-validation';
}

/** 400 for a `msgid` amojo accepted before (docs/amojo-protocol.md#messages): the message is there already. */
export class AmojoDuplicateMessageError extends AmojoValidationError {
  override readonly name = 'AmojoDuplicateMessageError';
  override readonly reason = 'amojo-duplicate-msgid';
}

/** 404: unknown channel, a scope not connected, or an unknown message. */
export class AmojoNotFoundError extends AmojoError {
  override readonly name = 'AmojoNotFoundError';
  readonly outcome = 'park';
  readonly reason = 'amojo-not-found';
}

export class AmojoServerError extends AmojoError {
  override readonly name = 'AmojoServerError';
  readonly outcome = 'retry';
  readonly reason = 'amojo-server-error';
}

export class AmojoTimeoutError extends AmojoError {
  override readonly name = 'AmojoTimeoutError';
  readonly outcome = 'retry';
  readonly reason = 'amojo-timeout';
}

/** The connection failed. `mayHaveLanded` is false when nothing was sent (refused, DNS). */
export class AmojoNetworkError extends AmojoError {
  override readonly name = 'AmojoNetworkError';
  readonly outcome = 'retry';
  readonly reason = 'amojo-network';
  constructor(
    info: AmojoErrorInfo,
    readonly mayHaveLanded: boolean,
  ) {
    super(info, `network error${mayHaveLanded ? '' : ' (not sent)'}`);
  }
}

/** A status we do not expect, or a body we cannot read. A 4xx is a bug on our side (park); anything else, try later. */
export class AmojoUnexpectedResponseError extends AmojoError {
  override readonly name = 'AmojoUnexpectedResponseError';
  readonly outcome: AmojoErrorOutcome;
  readonly reason = 'amojo-unexpected-response';
  constructor(info: AmojoErrorInfo, what?: string) {
    super(info, what);
    this.outcome = info.status !== undefined && info.status >= 400 && info.status < 500 ? 'park' : 'retry';
  }
}

/** No channel is connected for the account (never connected, or disconnected): `amo-gateway chat connect --account A`. */
export class AmojoNotConnectedError extends AmojoError {
  override readonly name = 'AmojoNotConnectedError';
  readonly outcome = 'defer';
  readonly reason = 'amojo-not-connected';
  override readonly retryAfterSeconds = 900;
  constructor(readonly account: string) {
    super(
      { method: '', path: '' },
      `no chat channel is connected for account "${account}" (amo-gateway chat connect --account ${account})`,
    );
  }
}
