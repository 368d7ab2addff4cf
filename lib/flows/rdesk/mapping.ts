/**
 * A validated RDESK element → the values of its RDESK keys (config.ts `BOOKED_KEYS`/`MC_KEYS`),
 * still independent of the target fields: fields.ts encodes each value for the field it is mapped
 * to (a date for a date field, its label for a select, its text for a text field…). A value of
 * `null` means "empty": the field is cleared if it holds something.
 */
import type { RdeskAccountConfig } from './config.ts';
import { DEFAULT_ITEM_STATUS_LABELS, statusLabel, templatesOf, type BookedKey, type McKey } from './labels.ts';
import type { Booking, McLab, McPush, McTreatment, RdeskTime } from './payload.ts';

export type RdeskValue =
  | { t: 'text'; v: string }
  | { t: 'number'; v: number }
  | { t: 'time'; v: RdeskTime }
  /** A label (booking status): a select's option by label, or the label as text. */
  | { t: 'label'; v: string };

export interface DesiredLead<K extends string = string> {
  /** The lead id RDESK sent (before mock-lead-id mode maps it). */
  rdeskLeadId: number;
  /** The push's own time (ms) when it carries one; ties and pushes without one go by arrival. */
  pushTime: number | undefined;
  values: Partial<Record<K, RdeskValue | null>>;
}

const text = (v: string | undefined | null): RdeskValue | null => (v === undefined || v === null || v === '' ? null : { t: 'text', v });
const num = (v: number | undefined): RdeskValue | null => (v === undefined ? null : { t: 'number', v });
const tm = (v: RdeskTime | undefined): RdeskValue | null => (v === undefined ? null : { t: 'time', v });

/** Offset (ms) of `timeZone` from UTC at the instant `ms`. */
export function zoneOffsetMs(timeZone: string, ms: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant (ms) an RDESK time stands for: a calendar date is its midnight in `timeZone`. */
export function instantOf(t: RdeskTime, timeZone: string): number {
  if (t.kind === 'instant') return t.ms;
  const utcMidnight = Date.parse(`${t.date}T00:00:00Z`);
  // Two passes: the offset at the guess, then at the corrected instant (DST edges).
  const first = utcMidnight - zoneOffsetMs(timeZone, utcMidnight);
  return utcMidnight - zoneOffsetMs(timeZone, first);
}

/** The calendar date (YYYY-MM-DD) of an RDESK time in `timeZone`. */
export function dateOf(t: RdeskTime, timeZone: string): string {
  if (t.kind === 'date') return t.date;
  return new Date(t.ms + zoneOffsetMs(timeZone, t.ms)).toISOString().slice(0, 10);
}

/** How a time reads inside rendered text: a date as sent, an instant as `YYYY-MM-DD HH:mm` in the zone. */
export function timeText(t: RdeskTime | undefined, timeZone: string): string {
  if (!t) return '';
  if (t.kind === 'date') return t.date;
  return new Date(t.ms + zoneOffsetMs(timeZone, t.ms)).toISOString().slice(0, 16).replace('T', ' ');
}

/** `{key}` → vars[key] ('' when missing); other braces are left as written. */
export function render(template: string, vars: Record<string, string | number | boolean | undefined>): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, k: string) => (k in vars ? String(vars[k] ?? '') : m));
}

const yesNo = (b: boolean | undefined) => (b === undefined ? '' : b ? 'да' : 'нет');

const daysBetween = (a: string, b: string) => Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);

export function mapBooking(b: Booking, cfg: RdeskAccountConfig): DesiredLead<BookedKey> {
  const tz = cfg.timeZone;
  const tpl = templatesOf(cfg);
  const guests = b.extData.guests.map((g) =>
    render(tpl.guest, {
      fio: g.fio,
      birthday: timeText(g.birthday, tz),
      stayCount: g.stayCount,
      roomCategory: g.roomCategory,
      ageGroup: g.ageGroup,
      cure: g.cure,
      uid: g.uid,
      billNum: g.billNum,
    }),
  );
  const bills = b.billData.map((x) => render(tpl.bill, { billNum: x.billNum, billSum: x.billSum, billPaidSum: x.billPaidSum }));
  const days = b.checkin && b.checkout ? daysBetween(dateOf(b.checkin, tz), dateOf(b.checkout, tz)) : undefined;
  return {
    rdeskLeadId: b.lead_id,
    pushTime: b.bookedAt ? instantOf(b.bookedAt, tz) : undefined,
    values: {
      status: { t: 'label', v: statusLabel(cfg, b.status) },
      bookedAt: tm(b.bookedAt),
      checkin: tm(b.checkin),
      checkout: tm(b.checkout),
      days: num(days),
      total: num(b.money.total),
      paid: num(b.money.paid),
      rdeskId: { t: 'text', v: String(b.id) },
      docNum: num(b.docNum),
      guests: text(guests.join(tpl.separator)),
      bills: text(bills.join(tpl.separator)),
    },
  };
}

export function mapMc(m: McPush, cfg: RdeskAccountConfig): DesiredLead<McKey> {
  const tz = cfg.timeZone;
  const tpl = templatesOf(cfg);
  const itemStatus = (s: string | undefined) => (s === undefined ? '' : (cfg.itemStatusLabels[s] ?? DEFAULT_ITEM_STATUS_LABELS[s] ?? s));
  const treatmentVars = (t: McTreatment) => ({
    action: t.action,
    name: t.action,
    visitDate: timeText(t.visit_date, tz),
    status: itemStatus(t.status),
    price: t.price,
    paid: yesNo(t.paid),
  });
  const labVars = (l: McLab) => ({
    lab: l.lab,
    name: l.lab,
    visitDate: timeText(l.visit_date, tz),
    status: itemStatus(l.status),
    price: l.price,
    paid: yesNo(l.paid),
  });
  const nested = (ts: McTreatment[], ls: McLab[] = []) =>
    [...ts.map((t) => render(tpl.item, treatmentVars(t))), ...ls.map((l) => render(tpl.item, labVars(l)))].join('');
  const joined = (parts: string[]) => text(parts.join(tpl.separator));

  // Money and days count what is not cancelled; packets and complexes carry their own price.
  const priced = [...m.treatments, ...m.labs, ...m.packets, ...m.complex].filter(
    (i) => !('status' in i) || (i as { status?: string }).status !== 'cancel',
  );
  const total = priced.reduce((s, i) => s + (i.pay === false ? 0 : (i.price ?? 0)), 0);
  const paid = priced.reduce((s, i) => s + (i.paid === true ? (i.price ?? 0) : 0), 0);
  const visits = [
    ...m.treatments,
    ...m.labs,
    ...m.packets.flatMap((p) => p.treatments),
    ...m.complex.flatMap((c) => [...c.treatments, ...c.labs]),
  ]
    .filter((i) => i.status !== 'cancel' && i.visit_date)
    .map((i) => dateOf(i.visit_date as RdeskTime, tz));
  const days = new Set(visits).size;

  return {
    rdeskLeadId: m.lead_id,
    pushTime: m.createdAt ? instantOf(m.createdAt, tz) : undefined,
    values: {
      createdAt: tm(m.createdAt),
      rdeskId: { t: 'text', v: String(m.id) },
      total: num(total),
      paid: num(paid),
      days: days > 0 ? num(days) : null,
      treatments: joined(m.treatments.map((t) => render(tpl.treatment, treatmentVars(t)))),
      labs: joined(m.labs.map((l) => render(tpl.lab, labVars(l)))),
      packets: joined(
        m.packets.map((p) => render(tpl.packet, { packet: p.packet, price: p.price, paid: yesNo(p.paid), items: nested(p.treatments) })),
      ),
      complexes: joined(
        m.complex.map((c) =>
          render(tpl.complex, { complex: c.complex, price: c.price, paid: yesNo(c.paid), items: nested(c.treatments, c.labs) }),
        ),
      ),
    },
  };
}
