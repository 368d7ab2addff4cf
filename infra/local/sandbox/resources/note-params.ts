/**
 * `params` per note type (amo-docs events-and-notes "Типы примечаний, для которых обязателен
 * массив params"). The doc gives one example per type and no list of required keys: the sandbox
 * requires every key the example shows except those it calls optional (`version_uuid` of an
 * attachment, `call_responsible` of a call) — *assumed*, pessimistic on purpose. Keys the
 * example does not show are kept as given (*assumed*).
 */
import { E, type FieldError } from '../errors.ts';
import { isRecord } from '../http-util.ts';

type Rule = 'text' | 'int' | 'number' | 'url' | 'uuid' | readonly string[];

const CALL: Record<string, Rule> = { uniq: 'text', duration: 'int', source: 'text', link: 'url', phone: 'text' };

export const NOTE_PARAMS: Record<string, Record<string, Rule>> = {
  common: { text: 'text' },
  call_in: CALL,
  call_out: CALL,
  service_message: { service: 'text', text: 'text' },
  extended_service_message: { service: 'text', text: 'text' },
  message_cashier: { status: ['created', 'shown', 'canceled'], text: 'text' },
  geolocation: { text: 'text', address: 'text', longitude: 'number', latitude: 'number' },
  sms_in: { text: 'text', phone: 'text' },
  sms_out: { text: 'text', phone: 'text' },
  attachment: { file_uuid: 'uuid', file_name: 'text' },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks `params` for `type`; errors carry paths like `params.duration`. */
export function checkNoteParams(type: string, params: unknown, errs: FieldError[], prefix = ''): void {
  const rules = NOTE_PARAMS[type];
  if (!isRecord(params)) {
    errs.push(params === undefined || params === null ? E.blank(`${prefix}params`) : E.type(`${prefix}params`, 'object'));
    return;
  }
  if (!rules) return;
  for (const [key, rule] of Object.entries(rules)) {
    const path = `${prefix}params.${key}`;
    const v = params[key];
    if (v === undefined || v === null || v === '') {
      errs.push(E.blank(path));
      continue;
    }
    if (Array.isArray(rule)) {
      if (typeof v !== 'string' || !rule.includes(v)) errs.push(E.choice(path));
    } else if (rule === 'text') {
      if (typeof v !== 'string') errs.push(E.type(path, 'string'));
      else if (v.trim() === '') errs.push(E.blank(path));
    } else if (rule === 'int') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) errs.push(E.type(path, 'int'));
    } else if (rule === 'number') {
      // The doc sends coordinates as strings ("-13"); a number or a numeric string is taken.
      if (!(typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)))))
        errs.push(E.type(path, 'numeric string'));
    } else if (rule === 'url') {
      if (typeof v !== 'string' || !/^https?:\/\/\S+$/i.test(v)) errs.push(E.invalid(path, 'This value is not a valid URL.'));
    } else if (rule === 'uuid') {
      if (typeof v !== 'string' || !UUID.test(v)) errs.push(E.invalid(path, 'This is not a valid UUID.'));
    }
  }
}
