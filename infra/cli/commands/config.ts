/**
 * `config check [file]`: everything `cdk synth` would refuse in a config file, said one problem per
 * line as `<path>: <what is wrong> — fix: <what to do>`, before anyone waits for a synth. In order:
 * the JSON syntax (line and column), the schema (lib/config, explained by lib/config/explain.ts),
 * the deploy-time checks of infra/aws/config.ts (secret-looking values, the rules against the
 * pulled dictionaries), and last the stack itself built in-process with bundling skipped — the same
 * code path as synth, so every synth-time check (the Lambda environment size among them) runs
 * without being written twice. Then warnings (placeholders `init` left, accounts without a hook
 * token) and a short summary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configSchema, type Config } from '../../../lib/config/schema.ts';
import { explainConfig, formatProblem, jsonSyntaxProblem, type ConfigProblem } from '../../../lib/config/explain.ts';
import { loadRules, RulesConfigError } from '../../../lib/rules/index.ts';
import { secretLookingValues, secretNames } from '../../aws/config.ts';
import { CliError, type Command } from '../command.ts';
import { str } from '../format.ts';
import { isPlaceholderClientId, isPlaceholderUrl, STAGES } from './init.ts';

export interface CheckResult {
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
  config?: Config;
}

/** Steps 1–3 (no CDK): syntax, schema, deploy-time config checks. */
export function checkConfigText(text: string, opts: { baseDir: string }): CheckResult {
  const syntax = jsonSyntaxProblem(text);
  if (syntax) {
    return { problems: [{ path: `line ${syntax.line}, column ${syntax.column}`, problem: syntax.problem, fix: syntax.fix }], warnings: [] };
  }
  const input: unknown = JSON.parse(text);
  const problems = explainConfig(input);
  if (problems.length) return { problems, warnings: [] };
  const config = configSchema.parse(input);
  for (const path of secretLookingValues(config)) {
    problems.push({
      path,
      problem: 'a plain string where a secret belongs (the config travels in the template and the Lambda environment)',
      fix: `use { "secret": "NAME" } and create NAME in Secrets Manager`,
    });
  }
  try {
    loadRules(config, { baseDir: opts.baseDir });
  } catch (e) {
    if (!(e instanceof RulesConfigError)) throw e;
    for (const issue of e.issues) {
      const [where, ...what] = issue.split(': ');
      const missingFile = /ENOENT|no such file/.test(issue);
      const account = /account "([^"]+)"/.exec(issue)?.[1] ?? '<id>';
      problems.push({
        path: what.length ? (where ?? 'rules') : 'rules',
        problem: what.length ? what.join(': ') : issue,
        fix: missingFile
          ? `pull the account's dictionary first: \`amo-gateway schema pull --account ${account}\` (writes schema/${account}.json)`
          : `use the name exactly as in the pulled dictionary (closest in parentheses), or pull it again: \`amo-gateway schema pull --account ${account}\``,
      });
    }
  }
  return { problems, warnings: warningsOf(config), config };
}

function warningsOf(config: Config): ConfigProblem[] {
  const w: ConfigProblem[] = [];
  config.integrations.forEach((i, n) => {
    if (isPlaceholderClientId(i.clientId))
      w.push({
        path: `integrations.${n}.clientId`,
        problem: 'still the placeholder `amo-gateway init` wrote',
        fix: 'create the integration in amoCRM with the redirect URI the deploy printed, then `amo-gateway init --force --client-id <its id>`',
      });
    // One warning for the pair init wrote together: the disconnect URL only when the redirect URI is real.
    for (const key of ['redirectUri', 'disconnectUri'] as const) {
      const url = i[key];
      if (url && isPlaceholderUrl(url) && !(key === 'disconnectUri' && isPlaceholderUrl(i.redirectUri)))
        w.push({
          path: `integrations.${n}.${key}`,
          problem: 'still the placeholder `amo-gateway init` wrote: OAuth cannot work with it',
          fix: 'deploy once, then `amo-gateway init --force --api-url <the ApiUrl output>` and deploy again',
        });
    }
  });
  config.accounts.forEach((a, n) => {
    if (!a.hookToken)
      w.push({
        path: `accounts.${n}.hookToken`,
        problem: `not set: every amoCRM webhook of "${a.id}" will be parked as bad-token`,
        fix: `add "hookToken": { "secret": "hook-token/${a.id}" } and create that secret (a random string)`,
      });
  });
  return w;
}

/** Step 4: the stack built as synth builds it (bundling skipped); an operator error is a problem line. */
async function synthCheck(file: string, stage: string | undefined): Promise<ConfigProblem[]> {
  // Loaded only here: aws-cdk-lib takes a second to import, and no other command needs it.
  const [{ App }, { stackFromContext, isOperatorError }] = await Promise.all([import('aws-cdk-lib'), import('../../aws/from-context.ts')]);
  const app = new App({
    // alarmEmail is a deploy flag, not the config's: prod refuses to synth without one, which is
    // not this file's problem (the deploy command init prints names it).
    context: { config: file, 'aws:cdk:bundling-stacks': [], alarmEmail: 'none', ...(stage ? { stage } : {}) },
    // Nothing is written: the app is never synthesized, only constructed.
    autoSynth: false,
  });
  try {
    stackFromContext(app);
    return [];
  } catch (e) {
    if (!isOperatorError(e)) throw e;
    return [
      {
        path: '(synth)',
        problem: e.message.replace(/\s*\n\s*/g, ' '),
        fix: 'what the message says: it is the check cdk synth runs (infra/aws/README.md, "The config")',
      },
    ];
  }
}

function summary(file: string, config: Config): string[] {
  const sections = (['rdesk', 'rules', 'forms', 'chat', 'onec', 'mirror'] as const).filter((s) => config[s] !== undefined);
  const secrets = secretNames(config);
  const rows: Array<[string, string]> = [
    ['integrations', `${config.integrations.length}: ${config.integrations.map((i) => i.id).join(', ')}`],
    [
      'accounts',
      `${config.accounts.length}${config.accounts.length ? ': ' : ''}${config.accounts.map((a) => `${a.id} (${a.subdomain}.${a.domain})`).join(', ')}`,
    ],
    ['forms', String(config.forms?.list.length ?? 0)],
    ['rules', String(config.rules?.list.length ?? 0)],
    ['sections', sections.join(', ') || 'none besides integrations and accounts'],
    ['secrets', `${secrets.length}${secrets.length ? ': ' : ''}${secrets.join(', ')}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [`${file}: valid`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
}

export const configCommands: Command[] = [
  {
    path: ['config', 'check'],
    summary: 'validate a config file: every problem with its path and the fix; exit 0 valid, 1 invalid',
    args: '[file]',
    details: [
      'Runs what synth runs: the JSON syntax, the schema (lib/config), the deploy-time checks (no secret',
      'values, the rules against the pulled dictionaries) and the stack built in-process without bundling',
      '(the Lambda environment size…). One problem per line: `<path>: <what is wrong> — fix: <what to do>`.',
      'Default file: ./amo.config.json. Rules dictionaries are read relative to the working directory, as synth does.',
    ].join('\n'),
    positionals: { min: 0, max: 1 },
    options: {
      stage: { type: 'string', valueName: 'dev|prod', description: 'the stage to check the stack for (the -c stage=… of cdk deploy)' },
      'no-synth': { type: 'boolean', description: 'skip building the stack (faster; the syntax, schema and config checks only)' },
    },
    async run({ io, values, positionals }) {
      const file = positionals[0] ?? 'amo.config.json';
      const stage = str(values.stage);
      if (stage !== undefined && !(STAGES as readonly string[]).includes(stage))
        throw new CliError(`--stage must be one of ${STAGES.join(', ')}, not "${stage}"`, 2);
      const path = resolve(file);
      if (!existsSync(path))
        throw new CliError(
          `${file} does not exist${positionals[0] ? '' : ' (the default; pass a file, or write one with `amo-gateway init`)'}`,
          2,
        );
      const result = checkConfigText(readFileSync(path, 'utf8'), { baseDir: process.cwd() });
      if (!result.problems.length && values['no-synth'] !== true) result.problems.push(...(await synthCheck(path, stage)));
      if (result.problems.length) {
        for (const p of result.problems) io.out(formatProblem(p));
        io.err(`${file}: ${result.problems.length} problem(s); synth would fail`);
        return 1;
      }
      for (const l of summary(file, result.config!)) io.out(l);
      for (const w of result.warnings) io.out(`warning: ${formatProblem(w)}`);
      return 0;
    },
  },
];
