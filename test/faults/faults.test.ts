/**
 * The fault suite in `npm test` (README.md in this folder): the CI scale of the scenario in
 * suite.ts — mixed events, every fault at once, a SIGKILL mid-batch — then EXACT counts in the
 * sandbox. The seed is printed with the report, on failure too; `FAULTS_SEED=N` runs another.
 */
import { describe, expect, it } from 'vitest';
import { CI_SCENARIO, formatReport, runScenario } from './suite.ts';

describe('the fault suite', () => {
  it('mixed events under 5xx, timeouts, lost answers, 429 bursts, duplicates, redeliveries and a SIGKILL: every effect exactly once; poison parked; replay recovers the rest', async () => {
    const seed = Number(process.env.FAULTS_SEED ?? CI_SCENARIO.seed);
    const report = await runScenario({ ...CI_SCENARIO, seed, log: (l) => process.stderr.write(`${l}\n`) });
    console.log(formatReport(report));
    expect(report.mismatches, `seed ${seed}`).toEqual([]);
    expect(report.faults['runner SIGKILLs']).toBe(1);
  }, 300_000);
});
