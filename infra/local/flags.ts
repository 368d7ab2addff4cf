/** `npm start` flags → runner options (pure, so it is tested without spawning a process). */
import { parseArgs } from 'node:util';

export const USAGE = `usage: npm start -- [--port N] [--host H] [--memory] [--data-dir DIR] [--quiet] [--quiet-events] [--debug] [--no-schedule] [--concurrency N]
                    [--sandbox-port N [--rules FILE] [--with-1c] | --no-sandbox [--config FILE]]`;

export interface Flags {
  help: boolean;
  port: number | undefined;
  host: string | undefined;
  memory: boolean;
  dataDir: string | undefined;
  quiet: boolean;
  debug: boolean;
  schedule: boolean;
  /** Batches each queue's poller runs at once (`--concurrency N`, default 1). */
  concurrency: number;
  /** The sandbox is amoCRM (default); `--no-sandbox` talks to the account in the config file. */
  sandbox: boolean;
  /** The sandbox's port (default: a free one). */
  sandboxPort: number | undefined;
  /** `--no-sandbox`: the config file (default AMO_CONFIG_FILE, then ./amo.config.json). */
  config: string | undefined;
  /** Do not print the one line per published event. */
  quietEvents: boolean;
  /** Sandbox mode: a JSON file with a `rules` section (lib/rules/README.md) for the generated config. */
  rules: string | undefined;
  /** Sandbox mode: a test 1C server and the 1C exchange on the sandbox account (lib/flows/onec/README.md). */
  with1c: boolean;
}

export class FlagError extends Error {
  override readonly name = 'FlagError';
}

function portOf(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (text.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65_535) throw new FlagError(`invalid ${what} "${text}"`);
  return port;
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
        'quiet-events': { type: 'boolean', default: false },
        debug: { type: 'boolean', default: false },
        'no-schedule': { type: 'boolean', default: false },
        concurrency: { type: 'string' },
        'no-sandbox': { type: 'boolean', default: false },
        'sandbox-port': { type: 'string' },
        config: { type: 'string' },
        rules: { type: 'string' },
        'with-1c': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new FlagError(e instanceof Error ? e.message : String(e));
  }
  const port = portOf(values.port ?? (env.PORT || undefined), 'port');
  const sandboxPort = portOf(values['sandbox-port'], 'sandbox port');
  if (values['no-sandbox'] && sandboxPort !== undefined) throw new FlagError('--sandbox-port and --no-sandbox exclude each other');
  if (!values['no-sandbox'] && values.config !== undefined)
    throw new FlagError('--config is for --no-sandbox (the sandbox generates its own config)');
  if (values['no-sandbox'] && values.rules !== undefined)
    throw new FlagError('--rules is for the sandbox (with --no-sandbox the rules are in the config file)');
  if (values['no-sandbox'] && values['with-1c'])
    throw new FlagError('--with-1c is for the sandbox (with --no-sandbox the onec section is in the config file)');
  const concurrency = values.concurrency === undefined ? 1 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new FlagError(`invalid concurrency "${values.concurrency ?? ''}" (a whole number from 1 to 64)`);
  return {
    help: values.help,
    port,
    host: values.host,
    memory: values.memory,
    dataDir: values['data-dir'],
    quiet: values.quiet,
    debug: values.debug,
    schedule: !values['no-schedule'],
    concurrency,
    sandbox: !values['no-sandbox'],
    sandboxPort,
    config: values.config,
    quietEvents: values['quiet-events'],
    rules: values.rules,
    with1c: values['with-1c'],
  };
}
