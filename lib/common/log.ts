/**
 * The one logging port (the pipeline, ingest, OAuth and the runtimes write to it). Powertools
 * Logger fits it in AWS (lib/aws/powertools.ts); the local runner gives a compact console line.
 * Attributes are structured and never hold bodies, path parameters, tokens, phones or emails
 * (docs/architecture.md#logs-and-secrets; see redact.ts for what slips into error text).
 */
export interface Log {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
