/**
 * `amo-gateway <group> <command> [options]` — the operations CLI (`bin` in package.json, or
 * `npm run cli -- …`). Dispatch walks the words of argv down the command table
 * (commands/index.ts); `--help` works at every level. `run(argv, io)` is what tests call.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { CliError, formatOptions, type CliIO, type Command, type OptionSpec } from './command.ts';
import { COMMANDS, GROUPS } from './commands/index.ts';
import { TARGET_OPTIONS } from './target.ts';

const NAME = 'amo-gateway';

function topHelp(): string[] {
  const lines = [`usage: ${NAME} <command> [options]`, '', 'commands:'];
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  for (const [group, summary] of Object.entries(GROUPS)) {
    lines.push(`  ${group} — ${summary}`);
    for (const c of COMMANDS.filter((x) => x.path[0] === group)) lines.push(`    ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  }
  lines.push('', `Run \`${NAME} <command> --help\` for a command's options.`);
  return lines;
}

function groupHelp(group: string): string[] {
  const cmds = COMMANDS.filter((c) => c.path[0] === group);
  const width = Math.max(...cmds.map((c) => c.path.join(' ').length));
  return [
    `usage: ${NAME} ${group} <command> [options]`,
    '',
    `${GROUPS[group] ?? ''}`,
    '',
    ...cmds.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
  ];
}

function commandHelp(c: Command): string[] {
  // A target option is the shared spec itself; a command's own option of the same name (init's --secrets-prefix) is its own.
  const isTarget = ([k, o]: [string, OptionSpec]) => TARGET_OPTIONS[k] === o;
  const own = Object.fromEntries(Object.entries(c.options).filter((e) => !isTarget(e)));
  const target = Object.fromEntries(Object.entries(c.options).filter(isTarget));
  // Commands that work on files alone (init, config check) take no target.
  const hasTarget = Object.keys(target).length > 0;
  return [
    `usage: ${NAME} ${c.path.join(' ')}${c.args ? ` ${c.args}` : ''} [options]${hasTarget ? ' [target]' : ''}`,
    '',
    c.summary,
    ...(c.details ? ['', c.details] : []),
    '',
    'options:',
    ...formatOptions({ ...own, help: { type: 'boolean', short: 'h', description: 'this help' } }),
    ...(hasTarget
      ? ['', 'target (the same on every command: --local | --stack NAME --region R | --table NAME [endpoints]):', ...formatOptions(target)]
      : []),
  ];
}

/** The command whose path is the longest prefix of the leading words of argv. */
function findCommand(argv: string[]): { command?: Command; rest: string[]; words: string[] } {
  const words: string[] = [];
  for (const a of argv) {
    if (a.startsWith('-')) break;
    words.push(a);
  }
  let best: Command | undefined;
  for (const c of COMMANDS) {
    if (c.path.length <= words.length && c.path.every((w, i) => words[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { command: best, rest: argv.slice(best.path.length), words } : { rest: argv, words };
}

export async function run(argv: string[], io: CliIO = processIO()): Promise<number> {
  try {
    const { command, rest, words } = findCommand(argv);
    const wantsHelp = argv.includes('--help') || argv.includes('-h');
    if (!command) {
      const group = words[0];
      if (group && GROUPS[group] && words.length === 1) {
        for (const l of groupHelp(group)) (wantsHelp ? io.out : io.err)(l);
        return wantsHelp ? 0 : 2;
      }
      if (words.length === 0 || words[0] === 'help') {
        for (const l of topHelp()) (words.length === 0 && !wantsHelp ? io.err : io.out)(l);
        return words.length === 0 && !wantsHelp ? 2 : 0;
      }
      throw new CliError(`unknown command "${words.join(' ')}"; run \`${NAME} --help\``, 2);
    }
    if (wantsHelp) {
      for (const l of commandHelp(command)) io.out(l);
      return 0;
    }
    const options = Object.fromEntries(
      Object.entries(command.options).map(([k, { description: _d, valueName: _v, hidden: _h, ...o }]) => [k, o]),
    );
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
    } catch (e) {
      throw new CliError(`${(e as Error).message}\nrun \`${NAME} ${command.path.join(' ')} --help\``, 2);
    }
    const p = command.positionals ?? { min: 0, max: 0 };
    if (parsed.positionals.length < p.min || parsed.positionals.length > p.max) {
      throw new CliError(`usage: ${NAME} ${command.path.join(' ')}${command.args ? ` ${command.args}` : ''} [options]`, 2);
    }
    return await command.run({
      io,
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    });
  } catch (e) {
    if (e instanceof CliError) {
      io.err(`${NAME}: ${e.message}`);
      return e.exitCode;
    }
    // Our errors never carry tokens or secrets; print the message and its causes' names.
    io.err(`${NAME}: ${(e as Error).name}: ${(e as Error).message}`);
    return 1;
  }
}

export function processIO(): CliIO {
  return {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

// `tsx infra/cli/main.ts …` (npm run cli) runs it directly; bin.js imports run().
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await run(process.argv.slice(2));
}
