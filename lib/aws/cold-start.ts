/**
 * Builds a function's handler once per container, at import. Importing a function file must not
 * throw (the local runner and tests import its `createHandler`), so a misconfigured function
 * fails every invocation with the reason instead.
 */
// `never[]` so any handler signature fits; the stand-in only throws.
export function builtOrFailing<H extends (...args: never[]) => unknown>(build: () => H): H {
  try {
    return build();
  } catch (e) {
    const reason = e;
    // Cast: the stand-in takes any arguments and never returns, so it satisfies every H.
    return (async () => {
      throw reason;
    }) as unknown as H;
  }
}
