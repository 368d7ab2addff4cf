/** RDESK (Zdravnitsa) pushes → lead fields (README.md in this folder). */
export * from './config.ts';
export * from './fields.ts';
export * from './labels.ts';
export * from './lead-map.ts';
export * from './mapping.ts';
export * from './payload.ts';
export * from './processor.ts';
export * from './tokens.ts';
export * from './writer.ts';
export * from './push-order.ts';
