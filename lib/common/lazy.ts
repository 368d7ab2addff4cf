/**
 * Parts of a function built when first needed instead of at cold start (the worker builds a
 * queue's flows at that queue's first message: lib/aws/worker-runtime.ts). The deployed wiring
 * passes loaders that `import()` their modules, so a cold start evaluates only what every message
 * needs; esbuild keeps such a module in the one bundle file but evaluates it only when the
 * `import()` runs (infra/aws/README.md, "What each function bundles").
 */

/** A part given as it is (tests, the local runner) or as its loader (the deployed function). */
export type Deferred<T> = T | (() => Promise<T>);

/** The part itself: the value, or what its loader resolves to. */
export async function resolveDeferred<T>(part: Deferred<T>): Promise<T> {
  // A Deferred's value is never itself a function (the parts are objects, maps and registries).
  return typeof part === 'function' ? (part as () => Promise<T>)() : part;
}

/**
 * `load` run at most once at a time: callers that arrive while it runs share its promise (two
 * first messages at once make one build), and its value is kept. A rejection is not kept: the next
 * call tries again (the caller fails the invocation meanwhile).
 */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= load().catch((e: unknown) => {
      pending = undefined;
      throw e;
    }));
}
