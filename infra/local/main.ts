/**
 * `npm start`: the gateway on this machine, connected to the amoCRM sandbox by default. Flags:
 *   --port N          HTTP port (default: PORT or 3000)
 *   --host H          bind address (default 127.0.0.1)
 *   --memory          DynamoDB in memory, queues not journaled, secrets not written (throwaway run)
 *   --data-dir D      where data is kept (default .local/)
 *   --quiet           no per-request / per-message / per-event lines
 *   --quiet-events    no line per published amoCRM event
 *   --debug           debug lines too (and the sandbox's own request lines)
 *   --no-schedule     do not fire the scheduled functions
 *   --concurrency N   batches each queue's poller runs at once (default 1; Lambda runs several)
 *   --sandbox-port N  the sandbox's port (default: a free one)
 *   --rules FILE      with the sandbox: a JSON file holding a config "rules" section (lib/rules/README.md),
 *                     resolved against the sandbox's dictionary at connect
 *   --no-sandbox      a real account from the config file instead of the sandbox
 *   --config FILE     with --no-sandbox (default AMO_CONFIG_FILE, then ./amo.config.json)
 *   --help
 */
import { readFileSync } from 'node:fs';
import type { RulesConfigInput } from '../../lib/rules/config.ts';
import { FlagError, parseFlags, USAGE, type Flags } from './flags.ts';

// Node 20 is this machine's runtime (Lambda runs 22): keep the SDK's nags off the console. Set
// before the SDK loads, hence the dynamic import below.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE ??= '1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let flags: Flags;
try {
  flags = parseFlags(process.argv.slice(2), process.env);
} catch (e) {
  console.error(`${e instanceof FlagError ? e.message : String(e)}\n${USAGE}`);
  process.exit(2);
}
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

const { startLocal } = await import('./runner.ts');
const { describeRunner } = await import('./banner.ts');
const { localEndpointsOf, removeLocalEndpoints, writeLocalEndpoints } = await import('../../lib/aws/local-endpoints.ts');

let runner: Awaited<ReturnType<typeof startLocal>>;
// `--with-1c`: the test 1C server, and the 1C exchange on the sandbox account (lib/flows/onec/README.md).
const onec = flags.with1c ? await import('./onec/with-1c.ts').then((m) => m.startWith1c()) : undefined;
try {
  // `--rules FILE`: the rules section for the generated sandbox config (its shape is checked with the config, its names at connect).
  const rules = flags.rules ? (JSON.parse(readFileSync(flags.rules, 'utf8')) as RulesConfigInput) : undefined;
  runner = await startLocal({
    ...(flags.port !== undefined ? { port: flags.port } : {}),
    ...(flags.host ? { host: flags.host } : {}),
    memory: flags.memory,
    ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
    quiet: flags.quiet,
    debug: flags.debug,
    schedule: flags.schedule,
    pollerConcurrency: flags.concurrency,
    amocrm: flags.sandbox
      ? {
          sandbox: flags.sandboxPort !== undefined ? { port: flags.sandboxPort } : true,
          printEvents: !flags.quietEvents,
          ...(rules ? { rules } : {}),
          ...(onec ? onec.amocrm : {}),
        }
      : { sandbox: false, ...(flags.config ? { configFile: flags.config } : {}), printEvents: !flags.quietEvents },
  });
} catch (e) {
  console.error(`could not start: ${e instanceof Error ? e.message : String(e)}`);
  if (e instanceof Error && e.cause) console.error(`  cause: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}`);
  process.exit(1);
}
// The CLI's `--local` finds this run's SQS/DynamoDB endpoints here (memory mode too).
const endpointsDir = runner.dataDir ?? flags.dataDir ?? '.local';
writeLocalEndpoints(endpointsDir, localEndpointsOf(runner));
console.log(describeRunner(runner, (await runner.amo?.accountStates()) ?? {}));
if (onec && runner.amo?.sandbox) console.log(onec.ready(runner.amo.sandbox.admin, runner.url));

let signals = 0;
const shutdown = (signal: string) => {
  signals++;
  if (signals > 1) {
    console.error(`\n${signal} again: exiting now (batches in flight are not finished; journaled messages come back next start)`);
    process.exit(130);
  }
  console.log(`\n${signal}: stopping — no new requests, finishing batches in flight…`);
  runner.stop().then(
    async (r) => {
      await onec?.close();
      removeLocalEndpoints(endpointsDir);
      const total = Object.values(r.saved).reduce((a, b) => a + b, 0);
      if (r.file) console.log(`${total} queued message(s) kept in ${r.file}; they are re-queued on the next start`);
      else console.log(runner.dataDir ? 'no queued messages left' : 'memory mode: nothing kept');
      process.exit(0);
    },
    (e: unknown) => {
      console.error(`stop failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
