/** The rules engine: declarative amoCRM automations (README.md here). */
export * from './config.ts';
export * from './resolve.ts';
export * from './match.ts';
export * from './plan.ts';
export * from './template.ts';
export * from './state.ts';
export * from './writer.ts';
export * from './flow.ts';
export * from './load.ts';
export * from './cross-account.ts';
export * from './transfer.ts';
