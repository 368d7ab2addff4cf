/**
 * The sandbox's internal request/response shapes, shared by its modules (core server, amojo,
 * outgoing webhooks). A module route returns `undefined` when the request is not its own.
 */
export interface SbRequest {
  method: string;
  /** URL path without the query string, e.g. `/api/v4/leads`. */
  path: string;
  query: URLSearchParams;
  /** Header names lower-case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The exact body bytes. */
  body: Buffer;
}

export interface SbResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type SbRoute = (req: SbRequest) => Promise<SbResponse | undefined>;

/** Injected time source (epoch ms) so tests can move time. */
export interface SbClock {
  now(): number;
}

export const systemClock: SbClock = { now: () => Date.now() };
