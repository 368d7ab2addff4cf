/** Finding "the same person" in amoCRM: the finder, its index port, the build and the webhook flow (README.md here). */
export * from './types.ts';
export * from './normalize.ts';
export * from './index-store.ts';
export * from './finder.ts';
export * from './build.ts';
export * from './flow.ts';
