/**
 * Nothing acknowledged is lost locally: `npm start` (infra/local/main.ts in its own process group,
 * with the sandbox) takes 500 lead-status webhooks; its whole process group is killed with
 * SIGKILL mid-stream, started again, killed again while bad-token posts sit parked in the DLQ, and
 * started a third time. Every post the runner answered 2xx for must then be either processed (its
 * `amocrm.lead.status` event printed) or parked with its body (`dlq list --scan` through the CLI,
 * the body through the same DLQ code) — 0 lost. Posts cut by a kill were never acknowledged and
 * count for nothing.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { readLocalEndpoints } from '../../lib/aws/local-endpoints.ts';
import { showParked } from '../../lib/aws/dlq-ops.ts';
import { envelopeBody } from '../../lib/envelope.ts';
import { DynamoDlqIndex } from '../../lib/store/dlq-index.ts';
import { exited, killStarted, startMain } from '../support/npm-start.ts';
import { waitFor } from './support.ts';

afterEach(killStarted);

const GOOD = 500;
const BAD = 20;
const BAD_BASE = 900_000;

/** A lead-status webhook as amoCRM sends it (form-encoded), for the sandbox account; one lead id per post. */
const hookBody = (leadId: number) =>
  [
    ['leads[status][0][id]', String(leadId)],
    ['leads[status][0][status_id]', '50012'],
    ['leads[status][0][old_status_id]', '50011'],
    ['leads[status][0][pipeline_id]', '5001'],
    ['account[subdomain]', 'sandbox'],
    ['account[id]', '31000001'],
  ]
    .map(([k, v]) => `${encodeURIComponent(k!)}=${encodeURIComponent(v!)}`)
    .join('&');

interface Run {
  proc: ChildProcess;
  out: () => string;
  url: string;
}

async function startRun(dataDir: string): Promise<Run> {
  const { proc, out } = startMain(['--port', '0', '--data-dir', dataDir, '--no-schedule'], { detached: true });
  await waitFor(() => /Ctrl-C stops/.test(out()) || proc.exitCode !== null, 'the banner', 60_000, 100);
  const url = /amo-gateway local runner on (http:\/\/127\.0\.0\.1:\d+)/.exec(out())?.[1];
  if (!url) throw new Error(`the runner did not start:\n${out()}`);
  return { proc, out, url };
}

/** SIGKILL to the runner's whole process group: no handler runs, nothing is flushed or saved. */
async function killGroup(run: Run): Promise<void> {
  process.kill(-run.proc.pid!, 'SIGKILL');
  await exited(run.proc);
}

/** 2xx → acknowledged; anything else (including a connection cut by the kill) → not. */
async function post(url: string, body: string, rid: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-amocrm-requestid': rid },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return res.status >= 200 && res.status < 300;
  } catch {
    return false;
  }
}

const attempted = new Set<number>();

/** Post ids with a few in flight at once until `stop()` says so; returns the acknowledged ids. */
async function postAll(ids: number[], urlOf: (id: number) => string, acked: Set<number>, stop: () => boolean): Promise<void> {
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let id = queue.shift(); id !== undefined && !stop(); id = queue.shift()) {
        attempted.add(id);
        if (await post(urlOf(id), hookBody(id), `crash-${id}`)) acked.add(id);
      }
    }),
  );
}

const health = async (url: string) =>
  (await (await fetch(`${url}/health`)).json()) as {
    parts: { sqs?: { queues?: Record<string, { dlq: number; visible: number; inFlight: number }> } };
  };

describe('a crashed runner loses nothing it acknowledged', () => {
  it('500 webhooks, SIGKILL mid-stream and again while messages are parked: every acknowledged one processed or parked with its body', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'amo-crash-'));
    const token = () =>
      (JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Record<string, string>)['local-sandbox/hook-token'];
    const good = new Set<number>();
    const bad = new Set<number>();
    const outs: string[] = [];

    // 1. Post; kill the whole group once 150 are acknowledged, with posts still in flight.
    const a = await startRun(dataDir);
    const hook = `/hooks/amocrm/${token()}`;
    const all = Array.from({ length: GOOD }, (_, i) => i + 1);
    let killedA = false;
    const posting = postAll(
      all,
      () => `${a.url}${hook}`,
      good,
      () => killedA,
    );
    await waitFor(() => good.size >= 150, '150 acknowledged posts', 60_000, 5);
    killedA = true;
    await killGroup(a);
    await posting;
    outs.push(a.out());
    const ackedBeforeKill = good.size;
    const cut = attempted.size - good.size;

    // 2. Start again: bad-token posts, parked at once (DLQ send, index entry, delete from the
    //    queue); once they are, more good posts (a sender retries what was not acknowledged), and
    //    kill the group mid-stream again — with the parked messages in the DLQ.
    const b = await startRun(dataDir);
    for (let i = 1; i <= BAD; i++)
      if (await post(`${b.url}/hooks/amocrm/not-our-token-${i}`, hookBody(BAD_BASE + i), `bad-${i}`)) bad.add(BAD_BASE + i);
    // Parked and settled: in the DLQ, and nothing left in the queue (so the parks' deletes are done too).
    await waitFor(
      async () => {
        const q = (await health(b.url)).parts.sqs?.queues?.['amocrm-hooks'];
        return q !== undefined && q.dlq >= bad.size && q.visible + q.inFlight === 0;
      },
      'the bad-token posts parked',
      30_000,
      50,
    );
    let killedB = false;
    const before = good.size;
    const postingB = postAll(
      all.filter((id) => !good.has(id)),
      () => `${b.url}${hook}`,
      good,
      () => killedB,
    );
    await waitFor(() => good.size >= before + 150, '150 more acknowledged posts', 60_000, 5);
    killedB = true;
    await killGroup(b);
    await postingB;
    outs.push(b.out());

    // 3. Start a third time; post (again) whatever was not acknowledged; every acknowledged post must come out.
    const c = await startRun(dataDir);
    await postAll(
      all.filter((id) => !good.has(id)),
      () => `${c.url}${hook}`,
      good,
      () => false,
    );
    const events = () => {
      const n = new Map<number, number[]>();
      [...outs, c.out()].forEach((text, run) => {
        for (const m of text.matchAll(/ event +amocrm\.lead\.status account=local id=(\d+)/g)) {
          const id = Number(m[1]);
          n.set(id, [...(n.get(id) ?? []), run]);
        }
      });
      return n;
    };
    await waitFor(() => [...good].every((id) => events().has(id)), 'an event for every acknowledged post', 60_000, 250).catch(
      () => undefined,
    );
    const seen = events();
    const lost = [...good].filter((id) => !seen.has(id));
    // A healthy run never publishes an event twice; a redelivery after a crash can re-publish only
    // an event whose publish the crash cut before its completion was recorded.
    const twiceInOneRun = [...seen].filter(([, runs]) => new Set(runs).size !== runs.length);
    const crashDuplicates = [...seen].filter(([, runs]) => runs.length > 1).length;

    // The parked ones: `dlq list --scan` (the CLI, against the running runner) sees each entry's message…
    const exec = promisify(execFile);
    const listed = await exec(
      process.execPath,
      ['--import', 'tsx', 'infra/cli/main.ts', 'dlq', 'list', '--local', '--data-dir', dataDir, '--scan', '--json'],
      {
        cwd: process.cwd(),
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      },
    );
    const items = listed.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; reason: string; inDlq?: boolean });
    const badItems = items.filter((i) => i.reason === 'bad-token');
    // …and each one's body is there (found by the same code as `dlq show`).
    const ep = readLocalEndpoints(dataDir);
    const sqs = new SQSClient({ endpoint: ep.sqsEndpoint, region: ep.region, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    const ddb = new DynamoDBClient({
      endpoint: ep.dynamodbEndpoint,
      region: ep.region,
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    });
    const queues = Object.entries(ep.queues).map(([id, q]) => ({ id, url: q.url, dlqUrl: q.dlqUrl, fifo: q.fifo ?? false }));
    const deps = {
      sqs,
      index: new DynamoDlqIndex({ doc: DynamoDBDocumentClient.from(ddb), tableName: ep.tableName, queueIds: queues.map((q) => q.id) }),
      queues,
      waitSeconds: 0,
      holdSeconds: 5,
    };
    const parkedIds = new Set<number>();
    for (const it of badItems) {
      const shown = await showParked(deps, it.id);
      const env = shown.message?.envelope;
      const m = env ? /leads%5Bstatus%5D%5B0%5D%5Bid%5D=(\d+)/.exec(envelopeBody(env).toString()) : null;
      if (m) parkedIds.add(Number(m[1]));
    }
    sqs.destroy();
    ddb.destroy();
    const lostParked = [...bad].filter((id) => !parkedIds.has(id));

    console.log(
      `crash-safe: ${good.size} good + ${bad.size} bad-token posts acknowledged (${ackedBeforeKill} before the first kill, ${cut} cut by it); ` +
        `lost ${lost.length} processed-side, ${lostParked.length} parked-side; ${crashDuplicates} event(s) re-published after a crash; ` +
        `${badItems.length} bad-token entries listed (${badItems.filter((i) => i.inDlq !== true).length} without their message)`,
    );
    expect(good.size).toBe(GOOD);
    expect(bad.size).toBe(BAD);
    expect(badItems).toHaveLength(BAD);
    expect(lost).toEqual([]);
    expect(lostParked).toEqual([]);
    expect(badItems.filter((i) => i.inDlq !== true)).toEqual([]);
    expect(twiceInOneRun).toEqual([]);

    c.proc.kill('SIGINT');
    expect(await exited(c.proc)).toBe(0);
  }, 240_000);
});
