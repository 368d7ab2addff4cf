/** How the test run picks its DynamoDB emulator (test/support/global-setup.ts) on a machine with or without Java. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeJava } from './support/global-setup.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A PATH holding only a fake `java` script with this body (or no java at all). */
function pathWith(javaScript?: string): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'fake-java-'));
  dirs.push(dir);
  if (javaScript !== undefined) {
    writeFileSync(join(dir, 'java'), `#!/bin/sh\n${javaScript}\n`);
    chmodSync(join(dir, 'java'), 0o755);
  }
  return { PATH: dir };
}

describe('probeJava', () => {
  it('no java on PATH: not usable, said plainly (no spawn error escapes)', () => {
    expect(probeJava(pathWith())).toEqual({ ok: false, why: 'java not found' });
  });

  it('a java whose -version fails is not usable', () => {
    expect(probeJava(pathWith('exit 3'))).toEqual({ ok: false, why: '`java -version` failed (exit 3)' });
  });

  it('a java older than 17 is not usable (DynamoDB Local 2.x needs 17)', () => {
    expect(probeJava(pathWith(`echo 'openjdk version "11.0.2" 2019-01-15' >&2`))).toEqual({
      ok: false,
      why: 'java 11 found, DynamoDB Local needs 17+',
    });
    expect(probeJava(pathWith(`echo 'java version "1.8.0_402"' >&2`))).toEqual({
      ok: false,
      why: 'java 8 found, DynamoDB Local needs 17+',
    });
  });

  it('java 17 or later is used', () => {
    expect(probeJava(pathWith(`echo 'openjdk version "17.0.12" 2024-07-16' >&2`))).toEqual({ ok: true, version: 17 });
    expect(probeJava(pathWith(`echo 'openjdk version "21" 2023-09-19' >&2`))).toEqual({ ok: true, version: 21 });
  });
});
