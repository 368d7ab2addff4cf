/**
 * The DLQ tooling's pure side (no AWS types): how parked things are named (refs), joined and
 * selected (parked), shown (present), and when absence from a DLQ is proven (absence). The SQS
 * and DynamoDB operations over them are lib/aws/dlq-ops.ts; the commands are infra/cli/commands/dlq.ts.
 */
export * from './absence.ts';
export * from './parked.ts';
export * from './present.ts';
export * from './refs.ts';
