/**
 * The runner's console: one compact line per event, `HH:MM:SS.mmm source message k=v …`.
 * Tests pass `quiet` and a `sink` to read the lines. Nothing here ever receives a body or a raw
 * path (the callers log route ids and path templates only).
 */
import type { Log } from '../../lib/common/log.ts';

export interface LocalLog {
  line(source: string, message: string, attributes?: Record<string, unknown>): void;
  /** The pipeline's logging port, writing through line(). */
  pipeline(source: string): Log;
}

export interface LocalLogOptions {
  quiet?: boolean;
  /** Receives every line (also when quiet). */
  sink?: (line: string) => void;
  /** Print debug lines too. */
  debug?: boolean;
}

function fmtValue(v: unknown): string {
  if (typeof v === 'string') return /^[\w./:@+-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

export function formatAttributes(attributes: Record<string, unknown> = {}): string {
  return Object.entries(attributes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${fmtValue(v)}`)
    .join(' ');
}

export function createLocalLog(opts: LocalLogOptions = {}): LocalLog {
  const emit = (level: 'debug' | 'info' | 'warn' | 'error', source: string, message: string, attributes?: Record<string, unknown>) => {
    if (level === 'debug' && !opts.debug) return;
    const time = new Date().toISOString().slice(11, 23);
    const attrs = formatAttributes(attributes);
    const tag = level === 'info' || level === 'debug' ? '' : ` ${level.toUpperCase()}`;
    const text = `${time} ${source.padEnd(13)}${tag} ${message}${attrs ? ` ${attrs}` : ''}`;
    opts.sink?.(text);
    if (!opts.quiet) (level === 'error' || level === 'warn' ? console.error : console.log)(text);
  };
  return {
    line: (source, message, attributes) => emit('info', source, message, attributes),
    pipeline: (source) => ({
      debug: (m, a) => emit('debug', source, m, a),
      info: (m, a) => emit('info', source, m, a),
      warn: (m, a) => emit('warn', source, m, a),
      error: (m, a) => emit('error', source, m, a),
    }),
  };
}
