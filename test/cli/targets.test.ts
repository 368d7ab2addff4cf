/**
 * One target, one set of flags, for every command that has one (infra/cli/target.ts; `init` and
 * `config check` work on a file alone): each command declares
 * the same target options, shows the same "target" section in its --help, refuses a missing
 * target with the same words, and — run for real against one running local gateway with the
 * sandbox — reaches it both through `--local` and through the same explicit flags.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../infra/cli/commands/index.ts';
import { TARGET_OPTIONS } from '../../infra/cli/target.ts';
import { startLocal, type LocalRunner } from '../../infra/local/runner.ts';
import { SANDBOX_CONFIG_FILE, SECRETS_FILE } from '../../infra/local/amocrm.ts';
import { localEndpointsOf, writeLocalEndpoints } from '../../lib/aws/local-endpoints.ts';
import { cli } from './support.ts';

/** Arguments that make each command run without doing anything lasting (or anything at all). */
const HARMLESS: Record<string, string[]> = {
  'auth link': [],
  'auth exchange-code': ['not-a-code'],
  'auth long-lived': ['not a token'],
  'token status': [],
  'token refresh': [],
  'dlq list': [],
  'dlq show': ['rdesk/nothing-here'],
  'dlq replay': ['--dry-run', '--progress', 'none'],
  'dlq purge': ['--dry-run', '--progress', 'none'],
  'schema pull': ['--out', '-', '--quiet'],
  'breaker status': [],
  'breaker lift': ['--account', 'local'],
  'rules check': [],
  'rules explain': ['no-such-event-file.json'],
  'contacts index build': ['--quiet'],
  'contacts index status': [],
  'contacts find': ['--phone', '+79990000000'],
  // The runner's sandbox config has no `chat` section: each says so (exit 1) and does nothing.
  'chat connect': ['--account', 'local'],
  'chat disconnect': ['--account', 'local'],
  'chat status': [],
  // No `onec` section either: says so (exit 1), nothing sent.
  'onec export': ['--lead', '8001', '--account', 'local'],
};

/**
 * Commands that never touch the table, SQS or amoCRM (they read the config and the dictionary
 * files): they take the target flags (a target names its config) but also run with --config alone.
 */
const OFFLINE = new Set(['rules check', 'rules explain']);

/**
 * Commands on a file alone (the config file being written or checked): no table, no config to
 * find, so no target. They take none of its flags and their --help has no target section.
 */
const FILE_ONLY = new Set(['init', 'config check']);
const TARGETED = COMMANDS.filter((c) => !FILE_ONLY.has(c.path.join(' ')));

/** What a command says when it could not find or use its target (rather than doing its work). */
const TARGET_TROUBLE =
  /Unknown option|no table|no config|no region|exclude each other|is set but|endpoints\.json|ECONNREFUSED|ResourceNotFound/;

function targetSection(help: string[]): string[] {
  const at = help.findIndex((l) => l.startsWith('target '));
  return help.slice(at);
}

describe('every command takes the same target flags', () => {
  const visible = Object.entries(TARGET_OPTIONS).filter(([, o]) => !o.hidden);

  it('each command declares every target option, and its --help shows the one same target section', async () => {
    expect(TARGETED.map((c) => c.path.join(' ')).sort()).toEqual(Object.keys(HARMLESS).sort());
    for (const c of COMMANDS.filter((x) => FILE_ONLY.has(x.path.join(' ')))) {
      for (const [name, spec] of Object.entries(TARGET_OPTIONS)) expect(c.options[name], `${c.path.join(' ')} --${name}`).not.toBe(spec);
      const help = await cli([...c.path, '--help'], {});
      expect(
        help.out.some((l) => l.startsWith('target ')),
        c.path.join(' '),
      ).toBe(false);
    }
    let first: string[] | undefined;
    for (const c of TARGETED) {
      for (const [name, spec] of Object.entries(TARGET_OPTIONS)) expect(c.options[name], `${c.path.join(' ')} --${name}`).toBe(spec);
      const help = await cli([...c.path, '--help'], {});
      expect(help.code).toBe(0);
      const section = targetSection(help.out);
      expect(section[0]).toMatch(/^target \(the same on every command/);
      for (const [name] of visible) expect(section.join('\n'), `${c.path.join(' ')} --help`).toContain(`--${name}`);
      // The deprecated alias works but is not advertised.
      expect(section.join('\n')).not.toMatch(/--endpoint\b/);
      first ??= section;
      expect(section, c.path.join(' ')).toEqual(first);
    }
  });

  it('without a target, every command refuses with the same words (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'amo-target-none-'));
    try {
      for (const c of TARGETED.filter((x) => !OFFLINE.has(x.path.join(' ')))) {
        const none = await cli([...c.path, ...(HARMLESS[c.path.join(' ')] ?? [])], {});
        expect(none.code, c.path.join(' ')).toBe(2);
        expect(none.err.at(-1), c.path.join(' ')).toMatch(
          /^amo-gateway: no table: pass --local \(a running npm start\), --stack <name>, or --table <name>/,
        );
        const both = await cli([...c.path, ...(HARMLESS[c.path.join(' ')] ?? []), '--local', '--stack', 'X'], {});
        expect(both.err.at(-1), c.path.join(' ')).toBe('amo-gateway: --stack and --local exclude each other');
        const noRunner = await cli([...c.path, ...(HARMLESS[c.path.join(' ')] ?? []), '--local', '--data-dir', dir], {});
        expect(noRunner.code).toBe(2);
        expect(noRunner.err.at(-1), c.path.join(' ')).toMatch(/endpoints\.json: is the local runner \(npm start\) running/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('against a running local gateway with the sandbox', () => {
    let runner: LocalRunner;
    let dataDir: string;
    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'amo-target-'));
      runner = await startLocal({
        port: 0,
        dataDir,
        quiet: true,
        schedule: false,
        pollWaitSeconds: 1,
        amocrm: { sandbox: true, printEvents: false },
      });
      writeLocalEndpoints(dataDir, localEndpointsOf(runner));
    });
    afterAll(async () => {
      await runner?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('every command reaches it through --local, and through the same explicit flags', async () => {
      const explicit = [
        '--table',
        runner.tableName,
        '--dynamodb-endpoint',
        runner.ddbEndpoint,
        '--sqs-endpoint',
        runner.sqsEndpoint,
        '--region',
        runner.region,
        '--queue-prefix',
        'amo-gateway',
        '--config',
        join(dataDir, SANDBOX_CONFIG_FILE),
        '--secrets',
        'local',
        '--secrets-file',
        join(dataDir, SECRETS_FILE),
      ];
      for (const target of [['--local', '--data-dir', dataDir], explicit]) {
        for (const c of TARGETED) {
          const name = c.path.join(' ');
          const res = await cli([...c.path, ...(HARMLESS[name] ?? []), ...target], {});
          const said = [...res.err, ...res.out].join('\n');
          expect(said, `${name} ${target[0]}`).not.toMatch(TARGET_TROUBLE);
          expect([0, 1], `${name} ${target[0]}: ${said}`).toContain(res.code);
        }
      }
      // What they found is the runner's: the token is there, the breaker closed, nothing parked.
      const status = await cli(['token', 'status', '--local', '--data-dir', dataDir], {});
      expect(status.text).toMatch(/^local\s+\S+\s+oauth\s+active/m);
      const list = await cli(['dlq', 'list', '--local', '--data-dir', dataDir], {});
      expect(list.text).toMatch(/^nothing parked \(the local runner \(pid \d+, http:\/\/127\.0\.0\.1:\d+\), table amo-gateway\)$/);
      // The old name of --dynamodb-endpoint still works.
      const old = await cli(
        [
          'breaker',
          'status',
          '--endpoint',
          runner.ddbEndpoint,
          '--table',
          runner.tableName,
          '--config',
          join(dataDir, SANDBOX_CONFIG_FILE),
          '--secrets-file',
          join(dataDir, SECRETS_FILE),
        ],
        {},
      );
      expect(old.code, old.err.join('\n')).toBe(0);
    });
  });
});
