/**
 * The template is valid CloudFormation, not only synthesizable: every resource's type,
 * properties and value types against the CloudFormation resource specification on npm
 * (`@aws-cdk/aws-service-spec`), plus the cross-resource rules that break real deploys
 * (test/infra/support/cfn-spec.ts). And the check does catch what it claims to.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { routeTable } from '../../lib/routes.ts';
import { checkTemplate, specDatabase } from './support/cfn-spec.ts';
import { logicalId, synthStack } from './support/synth.ts';
import type { Template } from 'aws-cdk-lib/assertions';

type Obj = Record<string, unknown>;
let template: Template;
let json: Obj;

beforeAll(() => {
  ({ template } = synthStack());
  json = template.toJSON() as Obj;
  specDatabase(); // loaded once (≈0.5 s)
});

/** A deep copy of the template with one change. */
function broken(change: (resources: Record<string, { Type: string; Properties: Obj } & Obj>) => void): Obj {
  const copy = structuredClone(json);
  change(copy.Resources as Record<string, { Type: string; Properties: Obj } & Obj>);
  return copy;
}
const queueIdNamed = (name: string) => logicalId(template, 'AWS::SQS::Queue', (p) => p.QueueName === name);
const fnNamed = (id: string) =>
  logicalId(template, 'AWS::Lambda::Function', (p) => p.Description === routeTable.functions.find((f) => f.id === id)?.description);

describe('the shipped template against the CloudFormation specification', () => {
  it('has 0 findings', () => {
    expect(checkTemplate(json)).toEqual([]);
  });

  it("accepts the CDK CLI's version-reporting resource that `cdk synth` adds", () => {
    const withMetadata = structuredClone(json);
    (withMetadata.Resources as Obj).CDKMetadata = { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'v2:deflate64:H4sI' } };
    expect(checkTemplate(withMetadata)).toEqual([]);
  });

  it('checked something: every resource type of ours is in the specification', () => {
    const types = new Set(Object.values(json.Resources as Record<string, { Type: string }>).map((r) => r.Type));
    expect(types.size).toBeGreaterThan(10);
    for (const t of types) expect(specDatabase().lookup('resource', 'cloudFormationType', 'equals', t).length, t).toBe(1);
  });
});

describe('the check catches a broken template', () => {
  const hooks = () => queueIdNamed('amo-gateway-amocrm-hooks');

  it('a wrong property name', () => {
    const t = broken((r) => {
      const q = r[hooks()]!;
      q.Properties.VisibilityTimeOut = q.Properties.VisibilityTimeout;
      delete q.Properties.VisibilityTimeout;
    });
    expect(checkTemplate(t)).toContainEqual({
      path: `Resources.${hooks()}.Properties.VisibilityTimeOut`,
      message: 'unknown property "VisibilityTimeOut"',
    });
  });

  it('a wrong value type, at the top and nested in a property type', () => {
    const fn = fnNamed('worker');
    const t = broken((r) => {
      r[hooks()]!.Properties.VisibilityTimeout = 'three minutes';
      r[fn]!.Properties.MemorySize = { size: 512 };
      (r[fn]!.Properties.Environment as Obj).Variables = ['TABLE_NAME'];
    });
    const found = checkTemplate(t);
    expect(found).toContainEqual({
      path: `Resources.${hooks()}.Properties.VisibilityTimeout`,
      message: 'expected an integer, got "three minutes"',
    });
    expect(found).toContainEqual({ path: `Resources.${fn}.Properties.MemorySize`, message: 'expected an integer, got {"size":512}' });
    expect(found.some((f) => f.path === `Resources.${fn}.Properties.Environment.Variables` && /expected a map/.test(f.message))).toBe(true);
  });

  it('a misspelled key nested in a list the registry schema widens with json (DynamoDB KeySchema)', () => {
    const table = logicalId(template, 'AWS::DynamoDB::Table', () => true);
    const t = broken((r) => {
      const key = (r[table]!.Properties.KeySchema as Obj[])[0]!;
      key.KeyTyp = key.KeyType;
      delete key.KeyType;
    });
    expect(checkTemplate(t)).toEqual([
      { path: `Resources.${table}.Properties.KeySchema[0].KeyTyp`, message: 'unknown property "KeyTyp"' },
      { path: `Resources.${table}.Properties.KeySchema[0]`, message: 'required property "KeyType" missing' },
    ]);
  });

  it('a missing required property, an unknown type, a value outside an enumeration', () => {
    const fn = fnNamed('oauth');
    const t = broken((r) => {
      delete r[fn]!.Properties.Role;
      r[hooks()]!.Type = 'AWS::SQS::Queues';
      const rule = Object.values(r).find((x) => x.Type === 'AWS::Events::Rule')!;
      rule.Properties.State = 'ON';
    });
    const found = checkTemplate(t).map((f) => f.message);
    expect(found).toContain('required property "Role" missing');
    expect(found).toContain('unknown resource type "AWS::SQS::Queues"');
    expect(found.some((m) => m.startsWith('"ON" is not one of'))).toBe(true);
  });

  it('a policy naming a resource that is not in the template, an attribute the type lacks', () => {
    const t = broken((r) => {
      const policy = Object.entries(r).find(([, x]) => x.Type === 'AWS::IAM::Policy')![1];
      const st = (policy.Properties.PolicyDocument as { Statement: Obj[] }).Statement;
      st.push({ Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': ['GatewayQueueGone', 'Arn'] } });
      st.push({ Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': [hooks(), 'Url'] } });
    });
    const found = checkTemplate(t).map((f) => f.message);
    expect(found).toContain('Fn::GetAtt on "GatewayQueueGone", which is not in the template');
    expect(found).toContain(`AWS::SQS::Queue "${hooks()}" has no attribute "Url"`);
  });

  it("a queue whose visibility timeout is below its consumer's timeout", () => {
    const t = broken((r) => {
      r[hooks()]!.Properties.VisibilityTimeout = 30;
    });
    expect(checkTemplate(t).map((f) => f.message)).toContainEqual(
      `queue ${hooks()} has a visibility timeout of 30s, below its consumer ${fnNamed('worker')}'s timeout of 60s`,
    );
  });

  it('names over their limits; a FIFO queue without the suffix', () => {
    const t = broken((r) => {
      r[hooks()]!.Properties.QueueName = `amo-gateway-${'x'.repeat(80)}`;
      r[queueIdNamed('amo-gateway-chat-in.fifo')]!.Properties.QueueName = 'amo-gateway-chat-in';
    });
    const found = checkTemplate(t).map((f) => f.message);
    expect(found).toContain('92 characters, over the 80 a AWS::SQS::Queue QueueName allows');
    expect(found).toContain('a FIFO queue’s name ends in .fifo, and only a FIFO queue’s');
  });
});
