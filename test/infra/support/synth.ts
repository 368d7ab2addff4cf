/** Synthesizes the stack for assertions; bundling is skipped unless asked for (it is the slow part). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { routeTable, type RouteTable } from '../../../lib/routes.ts';
import { AmoGatewayStack, type AmoGatewayStackProps } from '../../../infra/aws/stack.ts';
import { exampleConfig } from './config.ts';

export function synthStack(opts: { routes?: RouteTable; bundle?: boolean; props?: Partial<AmoGatewayStackProps> } = {}) {
  const outdir = mkdtempSync(join(tmpdir(), 'amo-cdk-'));
  const app = new App({ outdir, context: opts.bundle ? {} : { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AmoGatewayStack(app, 'AmoGateway', {
    routes: opts.routes ?? routeTable,
    config: exampleConfig,
    namePrefix: 'amo-gateway',
    ...opts.props,
  });
  return { app, stack, outdir, template: Template.fromStack(stack) };
}

export type CfnValue = unknown;

/**
 * Resolves `Fn::Join`/`Ref`/`Fn::GetAtt` into a string with placeholders (`<Ref:Id>`,
 * `<GetAtt:Id.Attr>`), enough to JSON.parse an environment variable built with toJsonString.
 */
export function resolvePlaceholders(v: CfnValue): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, CfnValue[]];
      return parts.map(resolvePlaceholders).join(sep);
    }
    if (typeof o.Ref === 'string') return `<Ref:${o.Ref}>`;
    if (Array.isArray(o['Fn::GetAtt'])) return `<GetAtt:${(o['Fn::GetAtt'] as string[]).join('.')}>`;
  }
  throw new Error(`cannot resolve ${JSON.stringify(v)}`);
}

/** The logical id of the one resource of `type` whose properties satisfy `pred`. */
export function logicalId(template: Template, type: string, pred: (props: Record<string, unknown>) => boolean): string {
  const found = Object.entries(template.findResources(type)).filter(([, r]) =>
    pred((r as { Properties: Record<string, unknown> }).Properties ?? {}),
  );
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]?.[0] ?? '';
}
