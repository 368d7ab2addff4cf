/**
 * The real request bodies, byte for byte (see test/fixtures/README.md for their public sources). Read them raw; never trim.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function fixtureBytes(relativePath: string): Buffer {
  return readFileSync(join(FIXTURES_DIR, relativePath));
}

export function fixtureNames(folder: string): string[] {
  return readdirSync(join(FIXTURES_DIR, folder)).sort();
}
