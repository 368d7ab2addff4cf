/**
 * Bench: how fast `POST /forms/{form_id}` answers (the forms function validates, throttles on the
 * table and enqueues before it answers, so its p50/p99 is the form route's real cost). Starts the
 * local runner in memory with the sandbox world and the demo form (its throttle raised so one IP
 * can post the whole run), posts valid urlencoded submissions — phones written the three ways
 * people write them — sequentially, then 10 at a time, and prints p50/p95/p99/max and throughput.
 * Nothing is asserted (the exit code is 0 unless the run itself breaks).
 *
 *   npx tsx bench/form-answer.ts [--n 500] [--concurrency 10]
 */
import { DEMO_FORMS } from '../infra/local/amocrm.ts';
import { timeRequests } from './support/timed.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : def;
}

/** The i-th submission: a name, and a phone in one of the three spellings of the same kind of number. */
function body(i: number): string {
  const n = String(1_000_000 + i).slice(-7);
  const phone = [
    `8 (999) ${n.slice(0, 3)}-${n.slice(3, 5)}-${n.slice(5)}`,
    `+7 999 ${n.slice(0, 3)} ${n.slice(3, 5)} ${n.slice(5)}`,
    `999${n}`,
  ][i % 3];
  return new URLSearchParams({ name: `Bench ${i}`, phone: phone ?? '', comment: 'bench', utm_source: 'bench' }).toString();
}

const measure = (url: string, n: number, concurrency: number, offset: number) =>
  timeRequests(
    n,
    concurrency,
    (i) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body(i) }),
    offset,
  );

async function main(): Promise<void> {
  const n = arg('n', 500);
  const concurrency = arg('concurrency', 10);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { startLocal } = await import('../infra/local/runner.ts');
  const forms = { ...DEMO_FORMS, list: DEMO_FORMS.list.map((f) => ({ ...f, throttle: { perMinute: 10_000, perHour: 100_000 } })) };
  const runner = await startLocal({
    port: 0,
    memory: true,
    quiet: true,
    schedule: false,
    amocrm: { sandbox: true, printEvents: false, forms },
  });
  try {
    const url = `${runner.url}/forms/contact`;
    await measure(url, 30, 1, 1_000_000); // warm-up, not counted
    const figures = [await measure(url, n, 1, 0), await measure(url, n, concurrency, n)];
    console.log(
      `form-answer: ${n} valid posts per mode to POST /forms/contact (local runner, memory; answer = validate + throttle + enqueue)`,
    );
    for (const f of figures) {
      const other = Object.entries(f.statuses).filter(([s]) => s !== '202');
      console.log(
        `  ${f.mode.padEnd(15)} p50 ${f.p50} ms  p95 ${f.p95} ms  p99 ${f.p99} ms  max ${f.max} ms  ${f.perSecond} req/s  (${f.seconds} s${other.length ? `, not 202: ${other.map(([s, c]) => `${c}×${s}`).join(' ')}` : ''})`,
      );
    }
  } finally {
    await runner.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
