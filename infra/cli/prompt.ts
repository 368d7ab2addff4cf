/**
 * Asking on stdin, for the commands that ask (`init`): questions, each answer parsed as it is
 * typed and asked again with the reason when refused; the same parsers check the answers given
 * as flags, so a flag is refused with the same words (a usage error naming it).
 */
import { createInterface } from 'node:readline';
import { CliError, type CliIO } from './command.ts';

/** An answer parsed: its value (and a note to show), or why not (and what Enter would take instead). */
export type Parsed<T> = { ok: true; value: T; note?: string } | { ok: false; reason: string; suggestion?: string };

export interface Asker {
  /** `label`: what the brackets show for the default (default: the default itself). */
  ask(question: string, fallback: string | undefined, label?: string): Promise<string>;
  say(line: string): void;
  close(): void;
}

/**
 * Lines from stdin: a person at a terminal (prompts on stderr, echo and editing by readline) or a
 * script piping its answers in (one line per question; a refused answer takes the next line). The
 * lines are read through one async iterator, which buffers: `rl.question()` would drop the lines
 * a pipe delivers before each question is asked.
 */
export function stdinAsker(io: CliIO): Asker {
  const input = io.stdin ?? process.stdin;
  const tty = io.stdinIsTTY ?? Boolean((input as { isTTY?: boolean }).isTTY);
  const rl = createInterface({ input, ...(tty ? { output: process.stderr, terminal: true } : { terminal: false }) });
  const lines = rl[Symbol.asyncIterator]();
  // Ctrl-C at a question: readline would only pause (it takes the terminal's SIGINT); end the questions instead.
  let interrupted = false;
  rl.on('SIGINT', () => {
    interrupted = true;
    process.stderr.write('\n');
    rl.close();
  });
  return {
    async ask(question, fallback, label) {
      const shown = label ?? fallback;
      const prompt = `${question}${shown !== undefined ? ` [${shown}]` : ''}: `;
      if (tty) {
        // readline's own prompt, so that its redraws (backspace, arrows) keep the question on the line.
        rl.setPrompt(prompt);
        rl.prompt();
      } else io.err(prompt.trimEnd());
      const next = await lines.next();
      if (next.done && interrupted) throw new CliError('interrupted: nothing written', 130);
      if (next.done)
        throw new CliError(`stdin ended before "${question}" was answered; pass it as a flag (--help), or --yes for the defaults`, 2);
      return next.value;
    },
    say: (l) => io.err(l),
    close: () => rl.close(),
  };
}

/** Asks until the answer parses; `fallback` is what Enter means (shown in brackets). */
export async function askUntil<T>(
  asker: Asker,
  question: string,
  parse: (raw: string) => Parsed<T>,
  fallback?: string,
  label?: string,
): Promise<T> {
  let def = fallback;
  for (;;) {
    const raw = await asker.ask(question, def, def === fallback ? label : undefined);
    const r = parse(raw.trim() === '' && def !== undefined ? def : raw);
    if (r.ok) {
      if (r.note) asker.say(`  → ${r.note}`);
      return r.value;
    }
    asker.say(`  ✗ ${r.reason}${r.suggestion ? ` — Enter takes "${r.suggestion}"` : ''}`);
    if (r.suggestion) def = r.suggestion;
  }
}

/** A flag's answer: parsed the same way; a refusal is a usage error naming the flag. */
export function fromFlag<T>(flag: string, raw: string, parse: (raw: string) => Parsed<T>): T {
  const r = parse(raw);
  if (!r.ok) throw new CliError(`--${flag}: ${r.reason}${r.suggestion ? ` (did you mean "${r.suggestion}"?)` : ''}`, 2);
  return r.value;
}
