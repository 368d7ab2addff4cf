/** The worker pipeline: outcome vocabulary, processors, the pure decision and backoff rules. */
export * from './outcome.ts';
export * from './backoff.ts';
export * from './decide.ts';
export * from './deferral.ts';
export * from './hooks.ts';
export * from './registry.ts';
export * from './fifo.ts';
export * from './process.ts';
export * from './dlq-index.ts';
export * from './fifo-ledger.ts';
