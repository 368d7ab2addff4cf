/**
 * `npm run faults [-- --full] [--seed N]`: the fault suite's scenario outside vitest (suite.ts).
 * Without flags it is the CI scale `npm test` runs; `--full` is 10 000 events. Prints the report
 * (events, faults injected, effects found / expected, parked, replayed) and exits 1 on any
 * mismatch, naming the seed.
 */
import { parseArgs } from 'node:util';
import { CI_SCENARIO, FULL_SCENARIO, formatReport, runScenario } from './suite.ts';

process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE ??= '1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values } = parseArgs({
  options: { full: { type: 'boolean', default: false }, seed: { type: 'string' }, quiet: { type: 'boolean', default: false } },
  strict: true,
});
const base = values.full ? FULL_SCENARIO : CI_SCENARIO;
const seed = values.seed !== undefined ? Number(values.seed) : base.seed;
if (!Number.isInteger(seed)) {
  console.error(`--seed takes an integer, not "${values.seed}"`);
  process.exit(2);
}
try {
  const report = await runScenario({ ...base, seed, ...(values.quiet ? {} : { log: (l: string) => console.error(l) }) });
  console.log(formatReport(report));
  process.exit(report.mismatches.length ? 1 : 0);
} catch (e) {
  console.error(`fault suite (seed ${seed}) failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
}
