/**
 * The CLI's small core: a command is a path of words (`token status`), a summary, its options
 * and a `run`. Groups (`auth`, `token`, later `dlq`, `schema`) are just the common prefixes, so a
 * new family of commands is one more file in commands/ and one line in commands/index.ts.
 */
import type { ParseArgsConfig } from 'node:util';

export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
  /** All of stdin (for secrets passed as `-`). */
  readStdin(): Promise<string>;
  /** Lines typed or piped in, for the commands that ask (`init`); process.stdin otherwise. */
  stdin?: NodeJS.ReadableStream;
  /** A person at a terminal (prompts with line editing) rather than a script piping answers. Default: the stream's own isTTY. */
  stdinIsTTY?: boolean;
  /** Injected by tests; global fetch otherwise. */
  fetch?: typeof fetch;
  clock?: { now(): number };
}

/** `hidden`: accepted but left out of --help (old names kept as aliases). */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { description: string; valueName?: string; hidden?: boolean };
export type Options = Record<string, OptionSpec>;
export type OptionValues = Record<string, string | boolean | undefined>;

export interface CommandRun {
  io: CliIO;
  values: OptionValues;
  positionals: string[];
}

export interface Command {
  path: string[];
  summary: string;
  /** Positional arguments, for the usage line: `<code>`, `[<token>|-]`. */
  args?: string;
  /** Longer help text shown under the usage line. */
  details?: string;
  options: Options;
  /** Positionals accepted (exactly). */
  positionals?: { min: number; max: number };
  run(ctx: CommandRun): Promise<number>;
}

/** A usage or operation error with a clear message; exit code 2 for usage, 1 otherwise. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function formatOptions(options: Options): string[] {
  const rows = Object.entries(options)
    .filter(([, o]) => !o.hidden)
    .map(
      ([name, o]) =>
        [
          `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` <${o.valueName ?? 'value'}>` : ''}`,
          o.description,
        ] as const,
    );
  const width = Math.max(0, ...rows.map(([f]) => f.length));
  return rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`);
}
