/**
 * The account's event list (amo-docs events-and-notes "Список событий"): what the sandbox records
 * when an entity is added or changed, a note is added or a link is made, in the documented
 * `value_after` / `value_before` shapes. Served by `resources/events-api.ts`.
 */
import type { AccountEvent, AccountState, AnyEntity, EntityKind, Lead, Note, StoredField } from './state.ts';

const SINGULAR: Record<EntityKind, string> = { leads: 'lead', contacts: 'contact', companies: 'company' };

/** events-and-notes "Типы событий": note types → the event their add records. */
const NOTE_EVENT: Record<string, string> = {
  common: 'common_note_added',
  call_in: 'incoming_call',
  call_out: 'outgoing_call',
  sms_in: 'incoming_sms',
  sms_out: 'outgoing_sms',
  geolocation: 'geo_note_added',
  service_message: 'service_note_added',
  extended_service_message: 'service_note_added',
  attachment: 'attachment_note_added',
  message_cashier: 'message_to_cashier_note_added',
};

/**
 * The numeric field type of `custom_field_value.field_type` (events-and-notes example: 8 for an
 * email = multitext). The table is amoCRM's legacy type ids; *assumed* for types the example does not show.
 */
const FIELD_TYPE_ID: Record<string, number> = {
  text: 1,
  numeric: 2,
  checkbox: 3,
  select: 4,
  multiselect: 5,
  date: 6,
  url: 7,
  multitext: 8,
  textarea: 9,
  radiobutton: 10,
  streetaddress: 11,
  smart_address: 13,
  birthday: 14,
  legal_entity: 15,
  items: 16,
  date_time: 19,
  price: 20,
  category: 21,
  tracking_data: 25,
  monetary: 26,
  file: 27,
  linked_entity: 28,
  chained_list: 29,
  payer: 30,
  supplier: 31,
};

/** Event ids are 26-character lowercase strings like the doc's `01pz58t6p04ymgsgfbmfyfy1mf`; ours count up. */
function eventId(n: number): string {
  return `01sb${n.toString(32).padStart(22, '0')}`;
}

export function singular(kind: EntityKind): string {
  return SINGULAR[kind];
}

export function recordEvent(state: AccountState, e: Omit<AccountEvent, 'id'>): AccountEvent {
  const ev: AccountEvent = { id: eventId(state.nextId('event')), ...e };
  state.events.push(ev);
  return ev;
}

/**
 * `lead_added` / `contact_added` / `company_added`. The doc's value_after carries the id of the
 * system note amoCRM writes with it; the sandbox writes no such note, so value_after is `[]` (*assumed*).
 */
export function recordAdded(state: AccountState, kind: EntityKind, e: AnyEntity, by: number): void {
  recordEvent(state, {
    type: `${SINGULAR[kind]}_added`,
    entity_type: SINGULAR[kind],
    entity_id: e.id,
    created_by: by,
    created_at: e.created_at,
    value_after: [],
    value_before: [],
  });
}

export interface Before {
  name: string;
  responsible_user_id: number;
  custom: StoredField[];
  price?: number;
  status_id?: number;
  pipeline_id?: number;
}

export function snapshot(e: AnyEntity): Before {
  const l = e as Partial<Lead>;
  return {
    name: e.name,
    responsible_user_id: e.responsible_user_id,
    custom: e.custom.map((f) => ({ field_id: f.field_id, values: f.values.map((v) => ({ ...v })) })),
    ...(l.price !== undefined ? { price: l.price } : {}),
    ...(l.status_id !== undefined ? { status_id: l.status_id, pipeline_id: l.pipeline_id } : {}),
  };
}

function cfValues(state: AccountState, f: StoredField | undefined, fieldId: number): unknown[] {
  const type = FIELD_TYPE_ID[state.fields.get(fieldId)?.type ?? ''] ?? 0;
  return (f?.values ?? []).map((v) => ({
    custom_field_value: {
      field_id: fieldId,
      field_type: type,
      enum_id: v.enum_id ?? null,
      text: v.value === null || v.value === undefined ? '' : String(v.value),
    },
  }));
}

/**
 * The events an update records (events-and-notes "Структуры данных"): `lead_status_changed`,
 * `entity_responsible_changed`, `custom_field_value_changed` (one per changed field),
 * `name_field_changed`, `sale_field_changed`. The last two have no documented value shape:
 * `{name_field_value:{name}}` / `{sale_field_value:{sale}}` are *assumed*.
 */
export function recordUpdated(state: AccountState, kind: EntityKind, e: AnyEntity, before: Before, by: number, at: number): void {
  const base = { entity_type: SINGULAR[kind], entity_id: e.id, created_by: by, created_at: at };
  const l = e as Partial<Lead>;
  if (before.status_id !== undefined && (l.status_id !== before.status_id || l.pipeline_id !== before.pipeline_id)) {
    recordEvent(state, {
      ...base,
      type: 'lead_status_changed',
      value_after: [{ lead_status: { id: l.status_id, pipeline_id: l.pipeline_id } }],
      value_before: [{ lead_status: { id: before.status_id, pipeline_id: before.pipeline_id } }],
    });
  }
  if (before.responsible_user_id !== e.responsible_user_id) {
    recordEvent(state, {
      ...base,
      type: 'entity_responsible_changed',
      value_after: [{ responsible_user: { id: e.responsible_user_id } }],
      value_before: [{ responsible_user: { id: before.responsible_user_id } }],
    });
  }
  if (before.name !== e.name) {
    recordEvent(state, {
      ...base,
      type: 'name_field_changed',
      value_after: [{ name_field_value: { name: e.name } }],
      value_before: [{ name_field_value: { name: before.name } }],
    });
  }
  if (before.price !== undefined && l.price !== before.price) {
    recordEvent(state, {
      ...base,
      type: 'sale_field_changed',
      value_after: [{ sale_field_value: { sale: l.price } }],
      value_before: [{ sale_field_value: { sale: before.price } }],
    });
  }
  const ids = new Set([...before.custom.map((f) => f.field_id), ...e.custom.map((f) => f.field_id)]);
  for (const id of ids) {
    const old = before.custom.find((f) => f.field_id === id);
    const now = e.custom.find((f) => f.field_id === id);
    if (JSON.stringify(old?.values ?? []) === JSON.stringify(now?.values ?? [])) continue;
    recordEvent(state, {
      ...base,
      type: 'custom_field_value_changed',
      value_after: cfValues(state, now, id),
      value_before: cfValues(state, old, id),
    });
  }
}

/** Adding a note records its event with `value_after: [{note:{id}}]` (events-and-notes). */
export function recordNote(state: AccountState, n: Note): void {
  const type = NOTE_EVENT[n.note_type];
  if (!type) return;
  recordEvent(state, {
    type,
    entity_type: SINGULAR[n.entity_type],
    entity_id: n.entity_id,
    created_by: n.created_by,
    created_at: n.created_at,
    value_after: [{ note: { id: n.id } }],
    value_before: [],
  });
}

/**
 * A link or unlink on the main entity: `contact_linked`, `company_linked`, `lead_linked` (and
 * `…_unlinked`) name the type of what was linked; a catalog element gives `entity_linked` (*assumed*:
 * the doc lists the types and the `{link|unlink:{entity:{type,id}}}` shape, not which one a link records).
 */
export function recordLink(
  state: AccountState,
  kind: EntityKind,
  entityId: number,
  toType: string,
  toId: number,
  op: 'link' | 'unlink',
  by: number,
  at: number,
): void {
  const to = toType === 'catalog_elements' ? 'catalog_element' : (SINGULAR[toType as EntityKind] ?? toType);
  const type = toType === 'catalog_elements' ? `entity_${op}ed` : `${to}_${op}ed`;
  const change = [{ [op]: { entity: { type: to, id: toId } } }];
  recordEvent(state, {
    type,
    entity_type: SINGULAR[kind],
    entity_id: entityId,
    created_by: by,
    created_at: at,
    value_after: op === 'link' ? change : [],
    value_before: op === 'unlink' ? change : [],
  });
}
