/**
 * The logging port the pipeline writes to. Powertools Logger satisfies it in AWS; the local
 * runner gives a compact console line. Attributes are structured and never hold bodies, path
 * parameters, phones or emails (docs/architecture.md#logs-and-secrets; see redact.ts for what slips into error text).
 */
export interface PipelineLog {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

export const silentLog: PipelineLog = { debug() {}, info() {}, warn() {}, error() {} };
