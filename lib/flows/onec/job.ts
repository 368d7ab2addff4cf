/**
 * A 1C request as the `onec` function queues it and the worker reads it (the envelope's body on
 * the `onec` queue, route `onec`), and the request's record the status endpoint answers from.
 */
import * as z from '../../common/zod.ts';

export const ONEC_OPERATIONS = ['course', 'course-delete', 'course-doubles', 'corp-lead'] as const;
export type OnecOperation = (typeof ONEC_OPERATIONS)[number];

/** The old MZPO method names, accepted as the `{op}` of `/1c/{op}` (drop-in compatibility). */
export const LEGACY_OPERATIONS: Readonly<Record<string, OnecOperation>> = {
  update_course: 'course',
  delete_course: 'course-delete',
  delete_doubles: 'course-doubles',
  corpLead: 'corp-lead',
};

export const JOB_VERSION = 1 as const;

// A pure call (annotated so) that builds the schema: the onec function, which only writes jobs,
// neither holds nor builds it — esbuild drops an unused pure call, not the calls inside.
export const jobSchema = /* @__PURE__ */ (() =>
  z.strictObject({
    v: z.literal(JOB_VERSION),
    /** Ours (UUID), answered in the 202; the status endpoint's key. */
    id: z.string().check(z.uuid()),
    caller: z.string(),
    op: z.enum(ONEC_OPERATIONS),
    receivedAt: z.number().check(z.int(), z.nonnegative()),
    /** The request as sent (JSON or form fields made nested), minus `secret_key`; validated again by the worker. */
    payload: z.record(z.string(), z.unknown()),
  }))();
export type OnecJob = z.output<typeof jobSchema>;

export type OnecRequestState = 'queued' | 'done' | 'failed';

export interface OnecRequestRecord {
  id: string;
  caller: string;
  op: OnecOperation;
  state: OnecRequestState;
  receivedAt: number;
  finishedAt?: number;
  /** amoCRM ids per account (`amo_ids` as the old API answered) and the per-account detail. */
  result?: Record<string, unknown>;
  error?: string;
  /** corp-lead: the ids a failed try already made (reused by the retry). */
  progress?: { company_id?: number; contact_id?: number; lead_id?: number };
}

/** Where request records live (the one table in AWS: lib/store/onec-requests.ts); kept for `ttlDays`. */
export interface OnecRequestStore {
  put(rec: OnecRequestRecord): Promise<void>;
  get(id: string): Promise<OnecRequestRecord | undefined>;
}

export class MemoryOnecRequestStore implements OnecRequestStore {
  readonly items = new Map<string, OnecRequestRecord>();
  async put(rec: OnecRequestRecord) {
    this.items.set(rec.id, structuredClone(rec));
  }
  async get(id: string) {
    const r = this.items.get(id);
    return r ? structuredClone(r) : undefined;
  }
}
