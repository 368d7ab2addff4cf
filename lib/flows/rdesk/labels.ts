/**
 * The RDESK keys, labels and templates the mapping (mapping.ts) renders with, and their defaults:
 * apart from config.ts, whose zod schemas (classic, checked at synth and by the CLI) the worker
 * never builds (infra/aws/README.md, "What each function bundles").
 */
import type { RdeskAccountConfig } from './config.ts';

/** RDESK keys of a booking push, each a value the mapping computes (mapping.ts). */
export const BOOKED_KEYS = [
  'status',
  'bookedAt',
  'checkin',
  'checkout',
  'days',
  'total',
  'paid',
  'rdeskId',
  'docNum',
  'guests',
  'bills',
] as const;
/** RDESK keys of a medical-centre push. */
export const MC_KEYS = ['createdAt', 'rdeskId', 'total', 'paid', 'days', 'treatments', 'labs', 'packets', 'complexes'] as const;

export type BookedKey = (typeof BOOKED_KEYS)[number];
export type McKey = (typeof MC_KEYS)[number];

export const STATUS_CODES = ['booked', 'checkin', 'checkout', 'cancel', 'waiting'] as const;
export type BookingStatus = (typeof STATUS_CODES)[number];

/** The old gateway's labels (its first version wrote these into a select field). */
export const DEFAULT_STATUS_LABELS: Record<BookingStatus, string> = {
  booked: 'Забронировано',
  checkin: 'Проживает',
  checkout: 'Выехал',
  cancel: 'Отменено',
  waiting: 'В ожидании',
};

/** Medical-centre item states seen in RDESK's samples; an unknown one is rendered as sent. */
export const DEFAULT_ITEM_STATUS_LABELS: Record<string, string> = { set: 'Назначено', done: 'Выполнено', cancel: 'Отменено' };

/**
 * Text templates: `{key}` is replaced by the item's value ('' when missing). The booked defaults
 * reproduce the old gateway's multi-line rendering byte for byte.
 */
export const DEFAULT_TEMPLATES = {
  guest:
    '{fio}\nДата рождения: {birthday}\nStay count: {stayCount}\nКатегория номера: {roomCategory}\nВозрастная группа: {ageGroup}\nНаправление: {cure}\nUID: {uid}\nСчет №: {billNum}\n',
  bill: 'Счет №: {billNum}\nСумма: {billSum}\nОплачено: {billPaidSum}\n',
  treatment: '{action}\nДата: {visitDate}\nСтатус: {status}\nЦена: {price}\nОплачено: {paid}\n',
  lab: '{lab}\nДата: {visitDate}\nСтатус: {status}\nЦена: {price}\nОплачено: {paid}\n',
  packet: '{packet}\nЦена: {price}\nОплачено: {paid}\n{items}',
  complex: '{complex}\nЦена: {price}\nОплачено: {paid}\n{items}',
  /** One nested treatment or lab of a packet or complex. */
  item: '— {name}: {visitDate}, {status}\n',
  /** Between two rendered guests, bills, treatments… */
  separator: '\n',
} as const;
export type Templates = { -readonly [K in keyof typeof DEFAULT_TEMPLATES]: string };

export function statusLabel(cfg: RdeskAccountConfig, code: BookingStatus): string {
  return cfg.statusLabels[code] ?? DEFAULT_STATUS_LABELS[code];
}

export function templatesOf(cfg: RdeskAccountConfig): Templates {
  return { ...DEFAULT_TEMPLATES, ...cfg.templates };
}
