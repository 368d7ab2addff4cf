/**
 * Bench: p99 ack of the chat channel's two routes (lib/amojo/README.md) on the local runner with
 * the sandbox (`--memory`, the worker consuming): `POST /chat/{channel}/messages` (API key checked,
 * FIFO keys read from the body, one SendMessage to the FIFO queue) from 20 conversations, and
 * `POST /chat/amojo/{scope_id}` (amojo's callback: stored as is; amojo wants 200 within 5 s,
 * docs/amojo-protocol.md#callbacks), signed with the channel secret. Sequential, then 10 at a time.
 * Nothing is asserted (the exit code is 0 unless the run itself breaks).
 *
 *   npx tsx bench/chat-ack.ts [--n 300] [--concurrency 10]
 */
import { randomUUID } from 'node:crypto';
import { LOCAL_CHAT_SECRETS } from '../infra/local/chat.ts';
import { postAmojoCallback, postChatInbound } from './support/chat-posts.ts';
import { round, timeRequests } from './support/timed.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : def;
}

async function measure(n: number, concurrency: number, send: (i: number) => Promise<Response>): Promise<string> {
  const f = await timeRequests(n, concurrency, send);
  return `  ${f.mode.padEnd(15)} p50 ${f.p50} ms  p95 ${f.p95} ms  p99 ${f.p99} ms  max ${f.max} ms  ${round(f.perSecond)} req/s${f.non200 ? `  (${f.non200} not 200)` : ''}`;
}

async function main(): Promise<void> {
  const n = arg('n', 300);
  const concurrency = arg('concurrency', 10);
  const { startLocal } = await import('../infra/local/runner.ts');
  const runner = await startLocal({ port: 0, quiet: true, schedule: false, memory: true, amocrm: { sandbox: true, printEvents: false } });
  try {
    const amo = runner.amo!;
    const key = await amo.secrets.get(LOCAL_CHAT_SECRETS.apiKey);
    const secret = await amo.secrets.get(LOCAL_CHAT_SECRETS.channel);
    const run = randomUUID().slice(0, 8);
    const inbound = (i: number) => postChatInbound(runner.url, key, run, 'bench', i);
    const callback = (i: number) => postAmojoCallback(runner.url, 'bench-scope', secret, run, i);
    await measure(30, 1, inbound);
    await measure(30, 1, callback);
    console.log(
      `chat-ack: ${n} requests per mode to POST /chat/{channel}/messages (API key, FIFO per conversation; local runner --memory, worker consuming)`,
    );
    console.log(await measure(n, 1, inbound));
    console.log(await measure(n, concurrency, inbound));
    console.log(`chat-ack: ${n} requests per mode to POST /chat/amojo/{scope_id} (amojo's signed callbacks)`);
    console.log(await measure(n, 1, callback));
    console.log(await measure(n, concurrency, callback));
  } finally {
    await runner.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
