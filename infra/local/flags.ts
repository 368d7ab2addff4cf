/** `npm start` flags → runner options (pure, so it is tested without spawning a process). */
import { parseArgs } from 'node:util';

export const USAGE = `usage: npm start -- [--port N] [--host H] [--memory] [--data-dir DIR] [--quiet] [--debug] [--no-schedule]`;

export interface Flags {
  help: boolean;
  port: number | undefined;
  host: string | undefined;
  memory: boolean;
  dataDir: string | undefined;
  quiet: boolean;
  debug: boolean;
  schedule: boolean;
}

export class FlagError extends Error {
  override readonly name = 'FlagError';
}

export function parseFlags(argv: readonly string[], env: NodeJS.ProcessEnv): Flags {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        memory: { type: 'boolean', default: false },
        'data-dir': { type: 'string' },
        quiet: { type: 'boolean', default: false },
        debug: { type: 'boolean', default: false },
        'no-schedule': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new FlagError(e instanceof Error ? e.message : String(e));
  }
  const portText = values.port ?? (env.PORT || undefined);
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (portText?.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65_535)) {
    throw new FlagError(`invalid port "${portText}"`);
  }
  return {
    help: values.help,
    port,
    host: values.host,
    memory: values.memory,
    dataDir: values['data-dir'],
    quiet: values.quiet,
    debug: values.debug,
    schedule: !values['no-schedule'],
  };
}
