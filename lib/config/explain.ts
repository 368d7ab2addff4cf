/**
 * Config problems as an operator reads them: each zod issue becomes `{ path, problem, fix }` —
 * where, what is wrong, what to do — for `amo-gateway config check` (and anyone else who wants
 * more than zod's "Invalid input"). Also: where a JSON text first breaks (line and column, which
 * Node's own JSON.parse message does not always give).
 *
 * Values are quoted back only where they cannot be secrets: never under a secret reference or a
 * secret-sounding key.
 */
import type * as z from 'zod';
import { AMO_DOMAINS, configSchema } from './schema.ts';
import { secretRefSchema } from './secret-ref.ts';

export interface ConfigProblem {
  /** `accounts.0.domain`; `(root)` for the whole document. */
  path: string;
  problem: string;
  fix: string;
}

/** `accounts.0.domain: "amocrm.kz" is not a supported domain — fix: use one of …` */
export function formatProblem(p: ConfigProblem): string {
  return `${p.path}: ${p.problem} — fix: ${p.fix}`;
}

type Path = ReadonlyArray<PropertyKey>;
type Issue = z.core.$ZodIssue;
type Schema = z.core.$ZodType;

/** The part of a zod v4 schema definition this module walks (zod's own `_zod.def`). */
interface Def {
  type: string;
  shape?: Record<string, Schema>;
  element?: Schema;
  innerType?: Schema;
  in?: Schema;
  options?: Schema[];
  valueType?: Schema;
  left?: Schema;
  right?: Schema;
  getter?: () => Schema;
}

const defOf = (s: Schema): Def => s._zod.def as unknown as Def;

/** Through optional/default/pipe/lazy wrappers to the schema that says what the value is. */
function unwrap(s: Schema): Schema {
  for (let i = 0; i < 20; i++) {
    const d = defOf(s);
    const next = d.innerType ?? (d.type === 'pipe' ? d.in : d.type === 'lazy' ? d.getter?.() : undefined);
    if (!next) return s;
    s = next;
  }
  return s;
}

/** Every schema the value at `path` may be checked against (unions give several). */
function schemasAt(root: Schema, path: Path): Schema[] {
  let current = [unwrap(root)];
  for (const key of path) {
    const next: Schema[] = [];
    const visit = (s: Schema): void => {
      const d = defOf(unwrap(s));
      if (d.type === 'union' && d.options) d.options.forEach(visit);
      else if (d.type === 'intersection') [d.left, d.right].forEach((x) => x && visit(x));
      else if (d.type === 'object' && typeof key === 'string' && d.shape?.[key]) next.push(unwrap(d.shape[key]));
      else if (d.type === 'array' && typeof key === 'number' && d.element) next.push(unwrap(d.element));
      else if (d.type === 'record' && d.valueType) next.push(unwrap(d.valueType));
    };
    current.forEach(visit);
    current = next;
  }
  return current.flatMap((s) => {
    const d = defOf(s);
    return d.type === 'union' && d.options ? d.options.map(unwrap) : [s];
  });
}

function objectKeys(schemas: Schema[]): string[] {
  return [...new Set(schemas.flatMap((s) => Object.keys(defOf(s).shape ?? {})))];
}

function valueAt(input: unknown, path: Path): unknown {
  let v = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

const SECRETISH = /secret|password|passwd|token|api[-_]?key|private[-_]?key|credential/i;

/** Quoting the value back is safe: not inside a secret reference, not under a secret-sounding key. */
function showable(root: Schema, path: Path): boolean {
  if (path.some((k) => typeof k === 'string' && SECRETISH.test(k))) return false;
  for (let i = 0; i <= path.length; i++) if (schemasAt(root, path.slice(0, i)).includes(secretRefSchema)) return false;
  return true;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const s = JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'true/false';
  return typeof value;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list [ … ]',
  object: 'an object { … }',
  record: 'an object { … }',
};

/** Edit distance with transpositions (optimal string alignment), case-blind: for did-you-mean. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d: number[][] = Array.from({ length: x.length + 1 }, (_, i) =>
    Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= x.length; i++)
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[x.length]![y.length]!;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/** A conventional secret name for a reference at `path` (as amo.config.example.json names them). */
export function conventionalSecretName(input: unknown, path: Path): string {
  const key = [...path].reverse().find((k): k is string => typeof k === 'string') ?? 'secret';
  const kebab = key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  // The nearest enclosing object's id / account names whose secret it is.
  for (let i = path.length - 1; i >= 0; i--) {
    const owner = valueAt(input, path.slice(0, i)) as Record<string, unknown> | undefined;
    const name = owner && typeof owner === 'object' ? (owner.id ?? owner.account) : undefined;
    if (typeof name === 'string' && /^[a-z0-9-]+$/.test(name)) {
      const section = typeof path[0] === 'string' && !['integrations', 'accounts'].includes(path[0]) ? `${path[0]}-` : '';
      return `${section}${kebab}/${name}`;
    }
  }
  // Nobody's in particular (a channel's secret…): the path itself, e.g. chat/channel/secret.
  return path
    .filter((k): k is string => typeof k === 'string')
    .map((k) => k.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase())
    .join('/');
}

/** Where to read about a section when the problem has no specific fix. */
const SECTION_DOCS: Record<string, string> = {
  integrations: 'infra/aws/README.md ("The config")',
  accounts: 'infra/aws/README.md ("The config")',
  oauth: 'lib/amocrm/oauth/README.md',
  mirror: 'lib/mirror/README.md',
  rdesk: 'lib/flows/rdesk/README.md',
  rules: 'lib/rules/README.md',
  forms: 'lib/flows/forms/README.md',
  chat: 'lib/amojo/README.md',
  onec: 'lib/flows/onec/README.md',
};

function docsFor(path: Path): string {
  const doc = typeof path[0] === 'string' ? SECTION_DOCS[path[0]] : undefined;
  return doc ? `see ${doc}` : 'see amo.config.example.json for a valid file';
}

/** What to type for a missing field we know by name. */
const FIELD_HINTS: Record<string, string> = {
  integrations: '"integrations": [ { "id", "clientId", "clientSecret", "redirectUri" } ] (`amo-gateway init` writes one)',
  accounts: '"accounts": [ { "id", "integration", "subdomain", "domain" } ]',
  id: 'an id: lower-case kebab-case, e.g. "main" or "clinic"',
  clientId: 'the integration ID from amoCRM (Settings → Integrations → your integration → Keys and scopes)',
  redirectUri: "the gateway's OAuth callback URL, https://…/oauth/callback (the deploy prints it)",
  integration: 'the id of one of the integrations',
  subdomain: '"mycompany" for mycompany.amocrm.ru',
  domain: `one of ${AMO_DOMAINS.join(', ')}`,
};

const pathText = (path: Path): string => (path.length ? path.map(String).join('.') : '(root)');

function explainIssue(issue: Issue, input: unknown, root: Schema, base: Path): ConfigProblem[] {
  const path = [...base, ...issue.path];
  const at = pathText(path);
  const value = valueAt(input, path);
  const key = path.at(-1);
  const safe = showable(root, path);
  const schemas = schemasAt(root, path);
  const one = (problem: string, fix: string): ConfigProblem[] => [{ path: at, problem, fix }];

  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = objectKeys(schemas);
      return issue.keys.map((k) => {
        const near = closest(k, known);
        return {
          path: pathText([...path, k]),
          problem: 'unknown key',
          fix: near ? `did you mean "${near}"?` : `remove it (known here: ${known.join(', ') || 'none'})`,
        };
      });
    }
    case 'invalid_type': {
      if (schemas.includes(secretRefSchema)) {
        const name = conventionalSecretName(input, path);
        return one(
          value === undefined ? 'is missing (a secret reference)' : `must be a secret reference, not ${kindOf(value)}`,
          `use { "secret": "${name}" } and create ${name} in Secrets Manager (the value goes there, never in this file)`,
        );
      }
      if (value === undefined) {
        const hint = typeof key === 'string' ? FIELD_HINTS[key] : undefined;
        const what = hint ?? EXPECTED[issue.expected] ?? issue.expected;
        return one('is missing', typeof key === 'string' ? `add "${key}" (${what})` : `add ${what}`);
      }
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      let fix = `make it ${expected}`;
      if (issue.expected === 'number' && typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) fix = `write ${value} without quotes`;
      else if (issue.expected === 'boolean' && (value === 'true' || value === 'false')) fix = `write ${value} without quotes`;
      else if (issue.expected === 'array' && value !== null && typeof value === 'object') fix = 'wrap it in [ ]';
      return one(`expected ${expected}, got ${kindOf(value)}${safe && typeof value !== 'object' ? ` ${show(value)}` : ''}`, fix);
    }
    case 'invalid_value': {
      const options = issue.values.map((v) => String(v));
      const near = typeof value === 'string' ? closest(value, options) : undefined;
      const what = key === 'domain' ? 'a supported domain' : 'one of the accepted values';
      return one(
        `${safe ? show(value) : 'the value'} is not ${what}`,
        `${near ? `did you mean "${near}"? ` : ''}use one of ${options.join(', ')}`,
      );
    }
    case 'invalid_format': {
      const shown = safe ? `${show(value)} ` : '';
      if (issue.format === 'url') return one(`${shown}is not a URL`, 'write the whole URL, starting with https://');
      let fix = 'change the value to match that rule';
      if (typeof value === 'string' && safe && (key === 'id' || key === 'integration' || key === 'account')) {
        const kebab = value
          .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
          .toLowerCase()
          .replace(/[^a-z0-9-]+/g, '-')
          .replace(/^[^a-z]+|-+$/g, '')
          .slice(0, 41);
        if (kebab) fix = `e.g. "${kebab}"`;
      } else if (key === 'subdomain' && typeof value === 'string') {
        const m = /^(?:https?:\/\/)?([a-z0-9-]+)\./i.exec(value.trim());
        fix = m?.[1] ? `only the subdomain: "${m[1].toLowerCase()}"` : 'only the part before .amocrm.ru / .kommo.com, lower-case';
      }
      return one(`${shown}is not valid: ${issue.message}`, fix);
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = small ? (issue as { minimum: unknown }).minimum : (issue as { maximum: unknown }).maximum;
      const origin = (issue as { origin?: string }).origin;
      const unit = origin === 'array' || origin === 'set' ? ' entr(y/ies)' : origin === 'string' ? ' character(s)' : '';
      const word = small ? 'at least' : 'at most';
      return one(
        `needs ${word} ${String(bound)}${unit}`,
        small && origin === 'array' ? 'add an entry' : `use ${word} ${String(bound)}${unit}`,
      );
    }
    case 'invalid_union': {
      // The accepted shape the value came closest to: the one that knows its keys (a rule action
      // `{ task: … }` is the task branch), then the one with the fewest complaints.
      const branches = issue.errors.filter((b) => b.length > 0);
      const topMismatch = (b: readonly Issue[]): number =>
        b.filter(
          (i) =>
            (i.path.length === 0 && (i.code === 'unrecognized_keys' || i.code === 'invalid_type')) ||
            (i.path.length === 1 && i.code === 'invalid_type' && valueAt(value, i.path) === undefined),
        ).length;
      const best = branches.map((b) => ({ b, m: topMismatch(b) })).sort((x, y) => x.m - y.m || x.b.length - y.b.length)[0];
      if (best && best.m === 0) return best.b.flatMap((i) => explainIssue(i, input, root, path));
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        // No branch knows the value's keys: name them against every key some branch wants.
        const wanted = [
          ...new Set(
            branches.flatMap((b) => b.filter((i) => i.path.length === 1 && i.code === 'invalid_type').map((i) => String(i.path[0]))),
          ),
        ];
        const strangers = Object.keys(value).filter((k) => !wanted.includes(k));
        if (wanted.length && strangers.length)
          return strangers.map((k) => {
            const near = closest(k, wanted);
            return {
              path: pathText([...path, k]),
              problem: 'unknown key',
              fix: `${near ? `did you mean "${near}"? ` : ''}one of ${wanted.join(', ')}`,
            };
          });
      }
      if (value === undefined) return one('is missing', typeof key === 'string' ? `add "${key}" (${docsFor(path)})` : docsFor(path));
      return one(`${safe ? `${show(value)} ` : 'the value '}matches none of the accepted forms`, docsFor(path));
    }
    case 'custom':
      return one(issue.message, customFix(issue.message, input, path));
    default:
      return one(issue.message, docsFor(path));
  }
}

function idsOf(input: unknown, section: 'accounts' | 'integrations'): string[] {
  const list = valueAt(input, [section]);
  return Array.isArray(list)
    ? list
        .map((x) => (x && typeof x === 'object' ? (x as { id?: unknown }).id : undefined))
        .filter((x): x is string => typeof x === 'string')
    : [];
}

/** The fixes for the cross-field checks of the schema (lib/config/schema.ts superRefine) and friends. */
function customFix(message: string, input: unknown, path: Path): string {
  let m: RegExpExecArray | null;
  if ((m = /^unknown (account|integration) "(.*)"$/.exec(message))) {
    const kind = m[1] as 'account' | 'integration';
    const ids = idsOf(input, kind === 'account' ? 'accounts' : 'integrations');
    const near = closest(m[2] ?? '', ids);
    return `${near ? `did you mean "${near}"? ` : ''}use the id of one of the ${kind}s (${ids.join(', ') || 'none configured'})`;
  }
  if (message.startsWith('must be https://')) return 'use the https:// address (API Gateway URLs are https)';
  if ((m = /^duplicate (.+) "/.exec(message))) return `give each entry its own ${m[1]}, or remove the duplicate`;
  if (message.includes('already uses hookToken secret')) {
    return `give each account its own hook token secret, e.g. { "secret": "${conventionalSecretName(input, [...path])}" }`;
  }
  if ((m = /^host (\S+) is not in oauth\.refererAllowList/.exec(message))) {
    const host = m[1] ?? '';
    return `add "*.${host.split('.').slice(1).join('.')}" to oauth.refererAllowList (or remove the list to allow every amoCRM domain)`;
  }
  if (message.includes('already uses host')) return 'remove the duplicate account, or correct its subdomain / domain';
  return docsFor(path);
}

/** Every problem zod found in `input`, explained; empty when it is a valid config. */
export function explainConfig(input: unknown, schema: Schema = configSchema): ConfigProblem[] {
  const parsed = (schema as z.ZodType).safeParse(input);
  if (parsed.success) return [];
  const problems = parsed.error.issues.flatMap((i) => explainIssue(i, input, schema, []));
  // One line per problem: unions can report the same thing twice.
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export interface JsonSyntaxProblem {
  line: number;
  column: number;
  problem: string;
  fix: string;
}

/**
 * Where `text` stops being JSON (1-based line and column) and why, or undefined if it parses.
 * A small scanner of its own: Node's JSON.parse gives a position only for some mistakes.
 */
export function jsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    // located below
  }
  let i = 0;
  class Stop extends Error {
    constructor(
      readonly at: number,
      readonly problem: string,
      readonly fix: string,
    ) {
      super(problem);
    }
  }
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
    if (text.startsWith('//', i) || text.startsWith('/*', i)) throw new Stop(i, 'a comment (JSON has none)', 'remove it');
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === undefined)
      throw new Stop(i, 'the file ends where a value should be', 'complete the value (or remove the dangling comma / key)');
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] === '}') throw new Stop(i, "a trailing comma before '}'", 'remove the last comma');
        if (text[i] !== '"')
          throw new Stop(
            i,
            text[i] === "'"
              ? 'a key in single quotes'
              : text[i] === undefined
                ? 'the file ends inside an object'
                : 'a key without double quotes',
            text[i] === undefined ? "close the object with '}'" : 'write keys in double quotes: "key"',
          );
        string();
        ws();
        if (text[i] !== ':') throw new Stop(i, "no ':' after the key", 'write "key": value');
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') return void i++;
        throw new Stop(
          i,
          "expected ',' or '}' after a value",
          text[i] === '"' ? 'add a comma between the entries' : "add the missing ',' or '}'",
        );
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === ']') throw new Stop(i, "a trailing comma before ']'", 'remove the last comma');
          continue;
        }
        if (text[i] === ']') return void i++;
        throw new Stop(i, "expected ',' or ']' after a list entry", "add the missing ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (c === "'") throw new Stop(i, 'a string in single quotes', 'use double quotes: "text"');
    const lit = /^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i));
    if (lit) return void (i += lit[0].length);
    throw new Stop(i, `unexpected ${JSON.stringify(c)}`, 'a value is "text" in double quotes, a number, true, false, null, { … } or [ … ]');
  };
  const string = (): void => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\n')
        throw new Stop(start, 'a string that runs past the end of the line', 'close it with " (or write a line break as \\n)');
      i += text[i] === '\\' ? 2 : 1;
    }
    if (i >= text.length) throw new Stop(start, 'a string that never ends', 'close it with "');
    i++;
  };
  let stop: Stop | undefined;
  try {
    value();
    ws();
    if (i < text.length) throw new Stop(i, 'more text after the end of the JSON document', 'remove it (one { … } per file)');
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    stop = e;
  }
  // The scanner is lenient in corners JSON.parse is not (escapes, control characters): say what Node says.
  stop ??= new Stop(Math.min(i, text.length), 'invalid JSON', 'check the text at this position');
  const before = text.slice(0, stop.at).split('\n');
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1, problem: stop.problem, fix: stop.fix };
}
