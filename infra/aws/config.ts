/**
 * The deployment's config at synth: read the file named by `-c config=<path>` (default
 * `amo.config.json`), validate it with the zod schema of lib/config (a bad config fails synth with
 * every issue and its path), and check what the template will carry: no secret values, only
 * `{ "secret": NAME }` references, which the functions resolve under `AMO_SECRETS_PREFIX`.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, loadConfigFile, secretRefSchema, type Config } from '../../lib/config/index.ts';
import { loadRules, RulesConfigError } from '../../lib/rules/index.ts';

/** The config file `cdk synth` reads when `-c config=…` is not given (relative to the working directory, where cdk.json is). */
export const DEFAULT_CONFIG_FILE = 'amo.config.json';
/** The committed example (fake client ids, secret references only): what `npm run synth` uses so CI synthesizes offline. */
export const EXAMPLE_CONFIG_FILE = 'amo.config.example.json';

export class DeployConfigError extends Error {
  override readonly name = 'DeployConfigError';
}

/**
 * The validated config for `cdk synth`/`deploy`. `path` is the `config` context value (undefined
 * when not given). No config at all is an error, never an empty deployment: a gateway without
 * accounts would deploy fine and then park every webhook.
 */
export function loadDeployConfig(path: string | undefined, cwd: string = process.cwd()): { config: Config; file: string } {
  const file = resolve(cwd, path ?? DEFAULT_CONFIG_FILE);
  if (path === undefined && !existsSync(file)) {
    throw new DeployConfigError(
      `no config: ${DEFAULT_CONFIG_FILE} does not exist in ${cwd} and no -c config=<path> was given. ` +
        `Write one with \`npx amo-gateway init\` (a few questions), or copy ${EXAMPLE_CONFIG_FILE} to ${DEFAULT_CONFIG_FILE} and fill it in, ` +
        `or synthesize the example with \`npm run synth\` (-c config=${EXAMPLE_CONFIG_FILE}).`,
    );
  }
  if (!existsSync(file)) throw new DeployConfigError(`no config: the file given with -c config=${path} does not exist (${file})`);
  let config: Config;
  try {
    config = loadConfigFile(file);
  } catch (e) {
    // ConfigError already lists every zod issue with its path; keep its text, say where it failed.
    if (e instanceof ConfigError) throw new DeployConfigError(e.message, { cause: e });
    throw e;
  }
  // The rules' names must resolve against the pulled dictionaries (relative to the working directory, as `schema pull` writes them).
  try {
    loadRules(config, { baseDir: cwd });
  } catch (e) {
    if (e instanceof RulesConfigError) throw new DeployConfigError(`config file ${file}: ${e.message}`, { cause: e });
    throw e;
  }
  const leaks = secretLookingValues(config);
  if (leaks.length) {
    throw new DeployConfigError(
      `config file ${file} holds values that look like secrets (${leaks.join(', ')}); the config travels in the template and the Lambda environment, so secrets must be { "secret": "NAME" } references`,
    );
  }
  return { config, file };
}

/** Every `{ "secret": NAME }` reference anywhere in the config: the secrets a deployment must create. */
export function secretNames(config: unknown): string[] {
  const names = new Set<string>();
  walk(config, [], (value) => {
    const ref = secretRefSchema.safeParse(value);
    if (ref.success) {
      names.add(ref.data.secret);
      return false;
    }
    return true;
  });
  return [...names].sort();
}

const SECRET_KEY = /secret|password|passwd|token|api[-_]?key|private[-_]?key|credential/i;

/**
 * Paths of plain strings under secret-sounding keys (`clientSecret: "abc"`). The schema already
 * forbids them where it knows the field; this catches a later config section that forgot to.
 */
export function secretLookingValues(config: unknown): string[] {
  const found: string[] = [];
  walk(config, [], (value, path) => {
    if (secretRefSchema.safeParse(value).success) return false;
    const key = path.at(-1);
    if (typeof value === 'string' && typeof key === 'string' && SECRET_KEY.test(key) && value !== '') found.push(path.join('.'));
    return true;
  });
  return found;
}

/** Depth-first walk; `visit` returns false to skip a value's children. */
function walk(value: unknown, path: Array<string | number>, visit: (value: unknown, path: Array<string | number>) => boolean): void {
  if (!visit(value, path)) return;
  if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i], visit));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...path, k], visit);
}

/**
 * Secrets Manager names: letters, digits and `/_+=.@-`. The prefix must end with `/` so the grant
 * (`secret:<prefix>*`) covers one folder of names, not every secret that happens to start alike.
 */
export function checkSecretsPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9/_+=.@-]{0,199}\/$/.test(prefix)) {
    throw new DeployConfigError(
      `secretsPrefix "${prefix}" must be a Secrets Manager name prefix ending with "/" (letters, digits and /_+=.@-), e.g. "amo-gateway/prod/"`,
    );
  }
  return prefix;
}
