/**
 * The error bodies the sandbox answers with. Each names its source (a section of
 * docs/amocrm-protocol.md, shortened "#section", or a public page) or says *assumed*.
 */
import { html, problem } from './http-util.ts';
import type { SbResponse } from './types.ts';

const OAUTH_TYPE = 'https://developers.amocrm.ru/v3/errors/OAuthProblemJson';
const BAD_PARAMS = 'В запросе отсутствует ряд параметров или параметры невалидны';

/** #token-endpoint-errors: wrong client_id / secret / redirect_uri. */
export function oauthInvalidClient(): SbResponse {
  return problem(401, { title: 'Некорректный клиент', type: OAUTH_TYPE, status: 401, detail: 'Авторизация клиента не прошла' });
}

/**
 * #token-endpoint-errors: reused/revoked refresh token → 401 `{"hint":"Token has been revoked",…}`. Other hints
 * ("Token has expired", "Cannot decrypt the refresh token", "Token is not linked to client") are
 * *assumed* (league/oauth2-server wording, which the documented hint comes from).
 */
export function oauthRefreshRejected(hint: string): SbResponse {
  return problem(401, { hint, title: 'Некорректный запрос', type: OAUTH_TYPE, status: 401, detail: BAD_PARAMS });
}

/** #token-endpoint-errors: 400 "incorrect data transmitted" (expired/reused code → 400). Body shape *assumed* (OAuthProblemJson with status 400). */
export function oauthBadRequest(hint: string): SbResponse {
  return problem(400, { hint, title: 'Некорректный запрос', type: OAUTH_TYPE, status: 400, detail: BAD_PARAMS });
}

/** #error-bodies (https://developers.kommo.com/docs/http-codes) 401 `detail:"Invalid user name or password"`; title/type follow the other bodies of that page. */
export function unauthorized(): SbResponse {
  return problem(401, { title: 'Unauthorized', type: 'https://httpstatus.es/401', status: 401, detail: 'Invalid user name or password' });
}

/** #rate-limits: the 429 body of https://developers.kommo.com/docs/http-codes, verbatim (retry_after is a knob, default the documented 300). */
export function tooManyRequests(retryAfter: number, format: 'json' | 'html'): SbResponse {
  if (format === 'html') {
    // #rate-limits: in practice 429 has come back as non-JSON (amocrm-api-php #526), no Retry-After header.
    return html(
      429,
      '<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
    );
  }
  return problem(429, {
    title: 'Too Many Requests',
    type: 'https://httpstatus.es/429',
    status: 429,
    detail: 'You have sent too many requests in a given amount of time. Please try again later.',
    retry_after: retryAfter,
  });
}

/** #blocking: the 403 is an nginx HTML page (amocrm-api-php #434); exact markup is nginx's stock page (*assumed*). */
export function blockedPage(): SbResponse {
  return html(
    403,
    '<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
  );
}

/** #entity-limits: 422 `{"title":"Unprocessable Entity",…,"detail":"Limit 250 per page"}`. */
export function limitPerPage(limit: number): SbResponse {
  return problem(422, { title: 'Unprocessable Entity', type: 'https://httpstatus.es/422', status: 422, detail: `Limit ${limit} per page` });
}

/** #error-bodies: 400 `detail:"Request data can not be empty"`. */
export function emptyRequest(): SbResponse {
  return problem(400, { title: 'Bad Request', type: 'https://httpstatus.es/400', status: 400, detail: 'Request data can not be empty' });
}

/** 400 for a body that is not JSON or not the expected shape. *assumed* wording. */
export function badRequest(detail: string): SbResponse {
  return problem(400, { title: 'Bad Request', type: 'https://httpstatus.es/400', status: 400, detail });
}

/** #error-bodies: 404 `Cannot GET …`. */
export function notFound(method: string, path: string): SbResponse {
  return problem(404, { title: 'Not Found', type: 'https://httpstatus.es/404', status: 404, detail: `Cannot ${method} ${path}` });
}

/** amocrm-api-php #403 (the body amoCRM answered for `GET /api/v4/leads/custom_fields/{unknown id}`), verbatim. */
export function customFieldNotFound(): SbResponse {
  return problem(404, { title: 'Not Found', type: 'https://httpstatus.es/404', status: 404, detail: 'Custom field not found' });
}

/** docs/amocrm-protocol.md#error-bodies lists 405; body *assumed* to follow the same problem shape. */
export function methodNotAllowed(method: string, path: string): SbResponse {
  return problem(405, {
    title: 'Method Not Allowed',
    type: 'https://httpstatus.es/405',
    status: 405,
    detail: `Method ${method} is not allowed for ${path}`,
  });
}

/** #error-bodies: 500 `{"title":"ErrInternalServer","status":500,"detail":…,"trace_id":…}`. */
export function internalError(traceId: string): SbResponse {
  return problem(500, { title: 'ErrInternalServer', status: 500, detail: 'Internal server error', trace_id: traceId });
}

/** 502/503/504 from the front proxy: nginx page (*assumed*). */
export function gatewayError(status: number): SbResponse {
  const text = { 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out' }[status] ?? 'Error';
  return html(
    status,
    `<html>\r\n<head><title>${status} ${text}</title></head>\r\n<body>\r\n<center><h1>${status} ${text}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
  );
}

// ---- validation-errors (#error-bodies, the 400 example of the Kommo http-codes page) ----

export interface FieldError {
  code: string;
  path: string;
  detail: string;
}

/** The documented code/detail pair (#error-bodies). Other codes below are *assumed*. */
export const E = {
  choice: (path: string): FieldError => ({ code: 'NotSupportedChoice', path, detail: 'The value you selected is not a valid choice.' }),
  type: (path: string, type: string): FieldError => ({ code: 'InvalidType', path, detail: `This value should be of type ${type}.` }),
  blank: (path: string): FieldError => ({ code: 'NotBlank', path, detail: 'This value should not be blank.' }),
  notFound: (path: string): FieldError => ({ code: 'NotFound', path, detail: 'Entity not found.' }),
  notUnique: (path: string): FieldError => ({ code: 'NotUnique', path, detail: 'This value is already used.' }),
  invalid: (path: string, detail: string): FieldError => ({ code: 'InvalidValue', path, detail }),
  /** Krukov/amocrm_api #68, #112, #116: a key amoCRM does not take inside a custom field value. */
  notExpected: (path: string): FieldError => ({ code: 'FieldNotExpected', path, detail: 'This field was not expected.' }),
};

export interface RequestErrors {
  request_id: string;
  errors: FieldError[];
}

/** #error-bodies: `{"validation-errors":[{"request_id":"0","errors":[…]}],"title":"Bad Request",…,"detail":"Request validation failed"}`. */
export function validationFailed(entries: RequestErrors[]): SbResponse {
  return problem(400, {
    'validation-errors': entries,
    title: 'Bad Request',
    type: 'https://httpstatus.es/400',
    status: 400,
    detail: 'Request validation failed',
  });
}
