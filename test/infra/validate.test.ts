/**
 * CDK's built-in CloudFormation validation (schema rules CloudFormation would only apply at deploy
 * time, e.g. the characters an IAM description may hold) over the shipped stack. The other infra
 * tests switch it off (CDK_VALIDATION=false in vitest.config.ts) because it is slow; this one
 * switches it back on once. Bundling stays skipped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { synthStack } from './support/synth.ts';

interface ValidationReport {
  pluginReports: Array<{
    pluginName: string;
    violations?: Array<{ ruleName: string; description: string; violatingConstructs: Array<{ constructPath: string }> }>;
  }>;
}

const saved = process.env.CDK_VALIDATION;
afterEach(() => {
  if (saved === undefined) delete process.env.CDK_VALIDATION;
  else process.env.CDK_VALIDATION = saved;
});

describe('CloudFormation validation', () => {
  it('finds nothing in the synthesized stack', { timeout: 180_000 }, () => {
    process.env.CDK_VALIDATION = 'true';
    const { app, outdir } = synthStack();
    app.synth();
    // The report is only written when validation ran; a clean run lists no plugin reports.
    const file = join(outdir, 'validation-report.json');
    expect(existsSync(file)).toBe(true);
    const report = JSON.parse(readFileSync(file, 'utf8')) as ValidationReport;
    const findings = report.pluginReports.flatMap((p) =>
      (p.violations ?? []).map((v) => `${v.ruleName} ${v.description} @ ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`),
    );
    expect(findings).toEqual([]);
  });
});
