/**
 * Where a running local gateway (`npm start`) can be reached: its stand-ins listen on ports
 * picked at start (fauxqs, dynalite), so the runner writes them to `<dataDir>/endpoints.json` and
 * operations tools (`amo-gateway dlq … --local`) read them back. The runner owns the file: it
 * writes it once ready and removes it on stop. A file whose process is gone is refused, so a
 * stale file from a crashed run never points a command at whatever took those ports since.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as z from 'zod';

export const LOCAL_ENDPOINTS_FILE = 'endpoints.json';

const queueSchema = z.object({ url: z.string().url(), dlqUrl: z.string().url(), fifo: z.boolean().optional() });

export const localEndpointsSchema = z.object({
  v: z.literal(1),
  /** The runner's process id (checked on read). */
  pid: z.number().int().positive(),
  /** The HTTP side (routes, /health). */
  url: z.string().url(),
  region: z.string().min(1),
  tableName: z.string().min(1),
  sqsEndpoint: z.string().url(),
  dynamodbEndpoint: z.string().url(),
  /** queue id → its URLs (fauxqs URLs: use them with `sqsEndpoint` as the client endpoint). */
  queues: z.record(z.string().min(1), queueSchema),
  /** ISO. */
  writtenAt: z.string(),
});

export type LocalEndpoints = z.infer<typeof localEndpointsSchema>;

export class LocalEndpointsError extends Error {
  override readonly name = 'LocalEndpointsError';
}

export function localEndpointsPath(dataDir: string): string {
  return join(resolve(dataDir), LOCAL_ENDPOINTS_FILE);
}

/** What a started runner knows (a structural subset of infra/local/runner.ts LocalRunner). */
export interface RunnerLike {
  url: string;
  region: string;
  tableName: string;
  sqsEndpoint: string;
  ddbEndpoint: string;
  queues: Readonly<Record<string, { url: string; dlqUrl: string; def: { fifo: boolean } }>>;
}

/** The file's content for a started runner: `writeLocalEndpoints(dir, localEndpointsOf(runner))`. */
export function localEndpointsOf(r: RunnerLike): Omit<LocalEndpoints, 'v' | 'writtenAt' | 'pid'> {
  return {
    url: r.url,
    region: r.region,
    tableName: r.tableName,
    sqsEndpoint: r.sqsEndpoint,
    dynamodbEndpoint: r.ddbEndpoint,
    queues: Object.fromEntries(Object.entries(r.queues).map(([id, q]) => [id, { url: q.url, dlqUrl: q.dlqUrl, fifo: q.def.fifo }])),
  };
}

/** Write atomically (temp file + rename), so a reader never sees half a file. Returns the path. */
export function writeLocalEndpoints(
  dataDir: string,
  e: Omit<LocalEndpoints, 'v' | 'writtenAt' | 'pid'> & { pid?: number; writtenAt?: string },
): string {
  const file = localEndpointsPath(dataDir);
  mkdirSync(resolve(dataDir), { recursive: true });
  const doc: LocalEndpoints = localEndpointsSchema.parse({
    v: 1,
    pid: e.pid ?? process.pid,
    writtenAt: e.writtenAt ?? new Date().toISOString(),
    ...withoutMeta(e),
  });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`);
  renameSync(tmp, file);
  return file;
}

function withoutMeta<T extends { pid?: number; writtenAt?: string }>(e: T): Omit<T, 'pid' | 'writtenAt'> {
  const { pid: _p, writtenAt: _w, ...rest } = e;
  return rest;
}

/** Remove the file if it is ours (a second runner's file is left alone). */
export function removeLocalEndpoints(dataDir: string, pid = process.pid): void {
  const file = localEndpointsPath(dataDir);
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown };
    if (doc.pid === pid) rmSync(file, { force: true });
  } catch {
    /* no file, or not ours to judge: leave it */
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else — still alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface ReadLocalEndpointsOptions {
  /** Check that the writing process still runs (default true). */
  checkPid?: boolean;
}

export function readLocalEndpoints(dataDir: string, opts: ReadLocalEndpointsOptions = {}): LocalEndpoints {
  const file = localEndpointsPath(dataDir);
  if (!existsSync(file)) {
    throw new LocalEndpointsError(
      `no ${file}: is the local runner (npm start) running with this data directory? (or pass --sqs-endpoint, --dynamodb-endpoint and --table)`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new LocalEndpointsError(`${file} is not valid JSON`, { cause });
  }
  const parsed = localEndpointsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new LocalEndpointsError(
      `${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  if ((opts.checkPid ?? true) && !processAlive(parsed.data.pid)) {
    throw new LocalEndpointsError(
      `${file} was written by process ${parsed.data.pid}, which is no longer running: start the local runner (npm start)`,
    );
  }
  return parsed.data;
}
