/**
 * FIFO batches keep order within a message group: groups run side by side, each group's records
 * one after another, and after the first failure in a group every later record of that group in
 * the batch is reported failed WITHOUT being processed. SQS then redelivers the failed head and
 * its followers in their original order; processing a follower first would reorder the group.
 * (This matches Powertools' SqsFifoPartialProcessor with skipGroupOnError.) `skip` is told of each
 * follower passed over, with the head that broke the group: the worker gives it the head's
 * visibility so the group comes back together, in order (lib/aws/sqs-batch.ts).
 */

/**
 * Run `run` over the records in group order. `run` resolves true when the record is done (deleted
 * or parked) and false when it must be reported failed; a thrown error counts as false.
 * `skip(follower, head)` is called for each record passed over after its group broke at `head`;
 * it resolves true when it finished the follower itself (the worker parks one SQS would otherwise
 * move on its next receive), false (or a throw) to report it failed. Returns the records to
 * report in batchItemFailures, in batch order.
 */
export async function runFifoBatch<T>(
  records: readonly T[],
  groupOf: (r: T) => string,
  run: (r: T) => Promise<boolean>,
  skip?: (follower: T, head: T) => Promise<boolean>,
): Promise<T[]> {
  const groups = new Map<string, T[]>();
  for (const r of records) {
    const g = groupOf(r);
    const list = groups.get(g);
    if (list) list.push(r);
    else groups.set(g, [r]);
  }
  const failed = new Set<T>();
  await Promise.all(
    [...groups.values()].map(async (list) => {
      let head: T | undefined;
      for (const r of list) {
        if (head !== undefined) {
          let finished = false;
          try {
            finished = skip ? await skip(r, head) : false;
          } catch {
            finished = false;
          }
          if (!finished) failed.add(r);
          continue;
        }
        let done = false;
        try {
          done = await run(r);
        } catch {
          done = false;
        }
        if (!done) {
          head = r;
          failed.add(r);
        }
      }
    }),
  );
  return records.filter((r) => failed.has(r));
}

/**
 * The same rule as a pure function over results already known, e.g. for a planner or a test:
 * given records in batch order with whether each succeeded, the ones to report failed.
 */
export function fifoFailures<T>(records: readonly T[], groupOf: (r: T) => string, succeeded: (r: T) => boolean): T[] {
  const broken = new Set<string>();
  const out: T[] = [];
  for (const r of records) {
    const g = groupOf(r);
    if (broken.has(g) || !succeeded(r)) {
      broken.add(g);
      out.push(r);
    }
  }
  return out;
}
