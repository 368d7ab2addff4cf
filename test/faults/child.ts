/**
 * The fault suite's runner process: what `npm start --no-sandbox --config FILE` runs
 * (infra/local/runner.ts, persisted in a data dir), with the knobs a test needs and `npm start`
 * does not offer: a seeded worker PRNG, short pipeline backoffs and a short visibility timeout
 * (the fault suite's minutes, not production's), and the worker client's request timeout and
 * add re-check policy shortened (held requests and lost answers settle in seconds). It is
 * SIGKILLed mid-batch by the suite and started again on the same data dir.
 *
 * Options: JSON in FAULTS_CHILD (see ChildOptions). On start it stores the long-lived token it is
 * given (what `amo-gateway auth long-lived` does), writes the CLI's endpoints file and prints
 * `FAULTS-CHILD-READY <url>`.
 */
import { startLocal } from '../../infra/local/runner.ts';
import { localEndpointsOf, writeLocalEndpoints } from '../../lib/aws/local-endpoints.ts';
import { seeded } from '../pipeline/seeded.ts';

export interface ChildOptions {
  port: number;
  dataDir: string;
  configFile: string;
  secretsFile: string;
  /** Stored for `account` before the first message is taken (idempotent: the same token again is fine). */
  token: { account: string; accessToken: string };
  seed: number;
  visibilityTimeoutSeconds: number;
  requestTimeoutMs: number;
  settleMs: number;
  /** Debug lines too (FAULTS_DUMP). */
  debug?: boolean;
}

const opts = JSON.parse(process.env.FAULTS_CHILD ?? '{}') as ChildOptions;
const runner = await startLocal({
  port: opts.port,
  dataDir: opts.dataDir,
  quiet: false,
  debug: opts.debug === true,
  schedule: false,
  pollWaitSeconds: 1,
  visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds,
  random: seeded(opts.seed),
  // Seconds, not minutes: 1 s doubling, a 2 s default deferral (an explicit one, e.g. a settle wait, stays exact).
  retry: { baseSeconds: 1, deferSeconds: 2, capSeconds: 8 },
  pollers: false,
  amocrm: {
    sandbox: false,
    configFile: opts.configFile,
    secretsFile: opts.secretsFile,
    printEvents: false,
    client: {
      requestTimeoutMs: opts.requestTimeoutMs,
      retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000, maxRateLimitWaits: 0 },
      addPolicy: { settleMs: opts.settleMs, recheckDelayMs: 200, maxInlineSettleWaitMs: opts.settleMs },
    },
  },
});
await runner.amo?.oauth.install.saveLongLived(opts.token.account, opts.token.accessToken);
runner.startPollers();
writeLocalEndpoints(opts.dataDir, localEndpointsOf(runner));
console.log(`FAULTS-CHILD-READY ${runner.url}`);
