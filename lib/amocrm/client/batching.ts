/**
 * Batching (docs/architecture.md#batch-and-coalesce): writes go ≤ 50 entities per request (amoCRM takes
 * 250 and recommends 50, docs/amocrm-protocol.md#entity-limits), and many updates of one entity in one worker batch
 * become one PATCH body: fields merged with later-wins, custom fields merged per field
 * (a later clear wins over an earlier value and vice versa), tag additions/removals combined.
 */
import { mergeFieldWrites, type CustomFieldWrite } from './custom-fields.ts';

/** amoCRM's recommendation for adds/updates (docs/amocrm-protocol.md#entity-limits); also the leads/complex maximum. */
export const WRITE_CHUNK = 50;

export function chunk<T>(items: readonly T[], size = WRITE_CHUNK): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export type TagRef = { id: number } | { name: string };

/** The PATCH body of one entity (leads, contacts, companies…): `id` plus any fields. */
export interface EntityPatch {
  id: number;
  custom_fields_values?: CustomFieldWrite[];
  tags_to_add?: TagRef[];
  tags_to_delete?: TagRef[];
  _embedded?: Record<string, unknown>;
  [field: string]: unknown;
}

const tagKey = (t: TagRef) => ('id' in t ? `id:${t.id}` : `name:${t.name.toLowerCase()}`);

/** Merge two patches of the same entity; `b` is later. */
export function mergePatch<T extends EntityPatch>(a: T, b: T): T {
  if (a.id !== b.id) throw new Error(`mergePatch: different entities ${a.id} and ${b.id}`);
  const out: EntityPatch = { ...a, ...b };
  if (a.custom_fields_values || b.custom_fields_values)
    out.custom_fields_values = mergeFieldWrites(a.custom_fields_values ?? [], b.custom_fields_values ?? []);
  if (a._embedded || b._embedded) out._embedded = { ...(a._embedded ?? {}), ...(b._embedded ?? {}) };
  if (a.tags_to_add || a.tags_to_delete || b.tags_to_add || b.tags_to_delete) {
    // Replay the operations in order: the last one on a tag decides whether it is added or removed.
    const state = new Map<string, { ref: TagRef; op: 'add' | 'delete' }>();
    for (const p of [a, b]) {
      for (const t of p.tags_to_delete ?? []) state.set(tagKey(t), { ref: t, op: 'delete' });
      for (const t of p.tags_to_add ?? []) state.set(tagKey(t), { ref: t, op: 'add' });
    }
    const adds = [...state.values()].filter((s) => s.op === 'add').map((s) => s.ref);
    const dels = [...state.values()].filter((s) => s.op === 'delete').map((s) => s.ref);
    delete out.tags_to_add;
    delete out.tags_to_delete;
    if (adds.length) out.tags_to_add = adds;
    if (dels.length) out.tags_to_delete = dels;
  }
  return out as T;
}

/**
 * Coalesce updates: one patch per entity id, in the order each id first appeared, each the merge
 * of all its patches in order.
 */
export function coalesceUpdates<T extends EntityPatch>(patches: readonly T[]): T[] {
  const byId = new Map<number, T>();
  for (const p of patches) {
    const prev = byId.get(p.id);
    byId.set(p.id, prev ? mergePatch(prev, p) : { ...p });
  }
  return [...byId.values()];
}
