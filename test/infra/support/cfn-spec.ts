/**
 * Checks a synthesized CloudFormation template against the CloudFormation resource specification
 * the CDK project publishes on npm (`@aws-cdk/aws-service-spec`: every resource type, its
 * properties, their value types, required properties and attributes, built from the CloudFormation
 * registry schemas), plus the cross-resource rules that fail real deploys and that neither the
 * spec nor `cdk synth` catches. Offline: the spec ships inside the package.
 *
 * What it does not check (the spec does not carry it): string patterns, numeric ranges, array
 * lengths — except the name lengths listed in NAME_LIMITS.
 */
import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import type { PropertyType, Resource, SpecDatabase, TypeDefinition } from '@aws-cdk/service-spec-types';

export interface SpecFinding {
  /** `Resources.<logical id>.Properties.<path>` or the rule's own place. */
  readonly path: string;
  readonly message: string;
}

type Json = unknown;
type Obj = Record<string, Json>;

const isObj = (v: Json): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const RESOURCE_KEYS = new Set([
  'Type',
  'Properties',
  'DependsOn',
  'Metadata',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'Condition',
  'CreationPolicy',
  'UpdatePolicy',
]);
const POLICIES = new Set(['Delete', 'Retain', 'Snapshot', 'RetainExceptOnCreate']);
const PSEUDO = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);
const INTRINSICS = new Set([
  'Ref',
  'Fn::GetAtt',
  'Fn::Join',
  'Fn::Sub',
  'Fn::Select',
  'Fn::Split',
  'Fn::If',
  'Fn::ImportValue',
  'Fn::FindInMap',
  'Fn::Base64',
  'Fn::GetAZs',
  'Fn::Cidr',
  'Fn::Length',
  'Fn::ToJsonString',
  'Fn::Equals',
  'Fn::And',
  'Fn::Or',
  'Fn::Not',
]);

/**
 * Physical-name limits of the services (their API references), checked on literal names.
 * SQS CreateQueue: 80 characters including `.fifo`; Lambda FunctionName 64; IAM RoleName 64;
 * EventBridge Rule Name 64, EventBus Name 256, Archive ArchiveName 48; DynamoDB TableName 255;
 * CloudWatch AlarmName 255, DashboardName 255; SNS TopicName 256; Logs LogGroupName 512;
 * API Gateway RestApi Name 1024 (assumed: no documented figure below that).
 */
export const NAME_LIMITS: Record<string, Record<string, number>> = {
  'AWS::SQS::Queue': { QueueName: 80 },
  'AWS::Lambda::Function': { FunctionName: 64 },
  'AWS::IAM::Role': { RoleName: 64 },
  'AWS::IAM::Policy': { PolicyName: 128 },
  'AWS::Events::Rule': { Name: 64 },
  'AWS::Events::EventBus': { Name: 256 },
  'AWS::Events::Archive': { ArchiveName: 48 },
  'AWS::DynamoDB::Table': { TableName: 255 },
  'AWS::CloudWatch::Alarm': { AlarmName: 255 },
  'AWS::CloudWatch::Dashboard': { DashboardName: 255 },
  'AWS::SNS::Topic': { TopicName: 256 },
  'AWS::Logs::LogGroup': { LogGroupName: 512 },
  'AWS::ApiGateway::RestApi': { Name: 1024 },
};

/** CloudFormation quotas on one template (AWS CloudFormation User Guide, "Understand CloudFormation quotas"). */
export const TEMPLATE_LIMITS = { resources: 500, outputs: 200, parameters: 200, bodyBytes: 1_000_000, logicalIdChars: 255 };

let cached: SpecDatabase | undefined;
export function specDatabase(): SpecDatabase {
  cached ??= loadAwsServiceSpecSync();
  return cached;
}

export function checkTemplate(template: Obj, db: SpecDatabase = specDatabase()): SpecFinding[] {
  const out: SpecFinding[] = [];
  const resources = (isObj(template.Resources) ? template.Resources : {}) as Record<string, Obj>;
  const parameters = isObj(template.Parameters) ? template.Parameters : {};
  const outputs = isObj(template.Outputs) ? template.Outputs : {};
  const specs = new Map<string, Resource | undefined>();
  const specOf = (type: string): Resource | undefined => {
    if (!specs.has(type)) specs.set(type, db.lookup('resource', 'cloudFormationType', 'equals', type).at(0));
    return specs.get(type);
  };
  const err = (path: string, message: string) => out.push({ path, message });

  // Template-wide quotas.
  if (Object.keys(resources).length > TEMPLATE_LIMITS.resources)
    err('Resources', `${Object.keys(resources).length} resources, over CloudFormation's ${TEMPLATE_LIMITS.resources}`);
  if (Object.keys(outputs).length > TEMPLATE_LIMITS.outputs)
    err('Outputs', `${Object.keys(outputs).length} outputs, over CloudFormation's ${TEMPLATE_LIMITS.outputs}`);
  if (Object.keys(parameters).length > TEMPLATE_LIMITS.parameters)
    err('Parameters', `${Object.keys(parameters).length} parameters, over CloudFormation's ${TEMPLATE_LIMITS.parameters}`);
  const bytes = Buffer.byteLength(JSON.stringify(template));
  if (bytes > TEMPLATE_LIMITS.bodyBytes)
    err('(template)', `${bytes} bytes, over CloudFormation's ${TEMPLATE_LIMITS.bodyBytes}-byte template body`);

  /** Ref / GetAtt / Sub targets must exist (resources, parameters, pseudo parameters; GetAtt attributes in the spec). */
  const checkIntrinsic = (path: string, key: string, arg: Json) => {
    if (key === 'Ref') {
      if (typeof arg !== 'string') return err(path, 'Ref takes a logical id');
      if (!(arg in resources) && !(arg in parameters) && !PSEUDO.has(arg)) err(path, `Ref to "${arg}", which is not in the template`);
    } else if (key === 'Fn::GetAtt') {
      const [id, attr] = Array.isArray(arg) ? arg : typeof arg === 'string' ? arg.split(/\.(.*)/s) : [];
      if (typeof id !== 'string' || typeof attr !== 'string') return err(path, 'Fn::GetAtt takes [logical id, attribute]');
      const target = resources[id];
      if (!target) return err(path, `Fn::GetAtt on "${id}", which is not in the template`);
      const spec = typeof target.Type === 'string' ? specOf(target.Type) : undefined;
      if (spec && !(attr in spec.attributes)) err(path, `${target.Type as string} "${id}" has no attribute "${attr}"`);
    } else if (key === 'Fn::Sub') {
      const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
      if (typeof text !== 'string') return err(path, 'Fn::Sub takes a string');
      for (const m of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
        const name = m[1] ?? '';
        if (isObj(vars) && name in vars) continue;
        const [id, attr] = name.split(/\.(.*)/s);
        if (attr === undefined) checkIntrinsic(path, 'Ref', id);
        else checkIntrinsic(path, 'Fn::GetAtt', [id, attr]);
      }
    }
  };

  /** Walks any value: intrinsic functions anywhere (also inside json-typed values like policy documents). */
  const walkIntrinsics = (path: string, v: Json) => {
    if (Array.isArray(v)) v.forEach((x, i) => walkIntrinsics(`${path}[${i}]`, x));
    else if (isObj(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && INTRINSICS.has(keys[0]!)) checkIntrinsic(path, keys[0]!, v[keys[0]!]);
      for (const [k, x] of Object.entries(v)) walkIntrinsics(`${path}.${k}`, x);
    }
  };

  const isIntrinsic = (v: Json): boolean => isObj(v) && Object.keys(v).length === 1 && INTRINSICS.has(Object.keys(v)[0]!);

  /** The findings of `v` against `t` (empty: it matches). */
  const typeErrors = (path: string, v: Json, t: PropertyType): SpecFinding[] => {
    if (isIntrinsic(v)) return [];
    const bad = (what: string): SpecFinding[] => [{ path, message: `expected ${what}, got ${JSON.stringify(v)?.slice(0, 80)}` }];
    switch (t.type) {
      case 'string': {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return bad('a string');
        if (t.allowedValues && typeof v === 'string' && !t.allowedValues.includes(v))
          return [{ path, message: `"${v}" is not one of ${t.allowedValues.join(', ')}` }];
        return [];
      }
      case 'integer':
        return (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v)) ? [] : bad('an integer');
      case 'number':
        return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)))
          ? []
          : bad('a number');
      case 'boolean':
        return typeof v === 'boolean' || v === 'true' || v === 'false' ? [] : bad('a boolean');
      case 'json':
        return isObj(v) || Array.isArray(v) || typeof v === 'string' ? [] : bad('a JSON object');
      case 'date-time':
        return typeof v === 'string' ? [] : bad('a date-time string');
      case 'null':
        return v === null ? [] : bad('null');
      case 'tag':
        return isObj(v)
          ? objectErrors(path, v, {
              Key: { type: { type: 'string' }, required: true },
              Value: { type: { type: 'string' }, required: true },
            })
          : bad('a tag');
      case 'array':
        if (!Array.isArray(v)) return bad('a list');
        return v.flatMap((x, i) => typeErrors(`${path}[${i}]`, x, t.element as PropertyType));
      case 'map':
        if (!isObj(v)) return bad('a map');
        return Object.entries(v).flatMap(([k, x]) => typeErrors(`${path}.${k}`, x, t.element as PropertyType));
      case 'union': {
        // Some registry schemas widen a structured type with `json` (DynamoDB KeySchema: a list of
        // KeySchema or json). A list or object is held to the structured alternative when there is one.
        const all = t.types as PropertyType[];
        const structured = all.filter((u) => (Array.isArray(v) ? u.type === 'array' : isObj(v) && (u.type === 'ref' || u.type === 'map')));
        const tries = (structured.length ? structured : all).map((u) => typeErrors(path, v, u));
        return tries.some((e) => e.length === 0) ? [] : (tries.sort((a, b) => a.length - b.length)[0] ?? bad('one of the union'));
      }
      case 'ref': {
        if (!isObj(v)) return bad('an object');
        const def = db.get('typeDefinition', t.reference.$ref) as TypeDefinition;
        return objectErrors(path, v, def.properties);
      }
      default:
        return [];
    }
  };

  const objectErrors = (path: string, v: Obj, props: Record<string, { type: PropertyType; required?: boolean }>): SpecFinding[] => {
    const found: SpecFinding[] = [];
    for (const [k, x] of Object.entries(v)) {
      const p = props[k];
      if (!p) found.push({ path: `${path}.${k}`, message: `unknown property "${k}"` });
      else found.push(...typeErrors(`${path}.${k}`, x, p.type));
    }
    for (const [k, p] of Object.entries(props))
      if (p.required && !(k in v)) found.push({ path, message: `required property "${k}" missing` });
    return found;
  };

  for (const [id, res] of Object.entries(resources)) {
    const at = `Resources.${id}`;
    if (!/^[A-Za-z0-9]+$/.test(id) || id.length > TEMPLATE_LIMITS.logicalIdChars) err(at, 'a logical id is alphanumeric, ≤ 255 characters');
    for (const k of Object.keys(res)) if (!RESOURCE_KEYS.has(k)) err(`${at}.${k}`, `unknown resource attribute "${k}"`);
    for (const k of ['DeletionPolicy', 'UpdateReplacePolicy'])
      if (k in res && !POLICIES.has(res[k] as string)) err(`${at}.${k}`, `"${String(res[k])}" is not a ${k}`);
    for (const d of [res.DependsOn ?? []].flat())
      if (typeof d !== 'string' || !(d in resources)) err(`${at}.DependsOn`, `depends on "${String(d)}", which is not in the template`);
    const type = res.Type;
    if (typeof type !== 'string') {
      err(`${at}.Type`, 'missing Type');
      continue;
    }
    walkIntrinsics(`${at}.Properties`, res.Properties ?? {});
    if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') continue; // any properties
    // The CDK CLI's version-reporting resource (`cdk synth` adds it; CloudFormation accepts it, the registry does not list it).
    if (type === 'AWS::CDK::Metadata') {
      for (const k of Object.keys((res.Properties as Obj | undefined) ?? {}))
        if (k !== 'Analytics') err(`${at}.Properties.${k}`, `unknown property "${k}"`);
      continue;
    }
    const spec = specOf(type);
    if (!spec) {
      err(`${at}.Type`, `unknown resource type "${type}"`);
      continue;
    }
    if (res.Properties !== undefined && !isObj(res.Properties)) {
      err(`${at}.Properties`, 'Properties must be an object');
      continue;
    }
    out.push(...objectErrors(`${at}.Properties`, (res.Properties ?? {}) as Obj, spec.properties));
    const limits = NAME_LIMITS[type] ?? {};
    for (const [prop, max] of Object.entries(limits)) {
      const name = (res.Properties as Obj | undefined)?.[prop];
      if (typeof name === 'string' && name.length > max)
        err(`${at}.Properties.${prop}`, `${name.length} characters, over the ${max} a ${type} ${prop} allows`);
    }
  }

  out.push(...crossResourceFindings(resources));
  return out;
}

/** Rules across resources that CloudFormation (or the service) refuses at deploy time. */
function crossResourceFindings(resources: Record<string, Obj>): SpecFinding[] {
  const out: SpecFinding[] = [];
  const props = (id: string): Obj => (resources[id]?.Properties as Obj | undefined) ?? {};
  const getAttId = (v: Json): string | undefined =>
    isObj(v) && Array.isArray(v['Fn::GetAtt']) ? (v['Fn::GetAtt'][0] as string) : undefined;
  const refId = (v: Json): string | undefined => (isObj(v) && typeof v.Ref === 'string' ? v.Ref : undefined);

  for (const [id, res] of Object.entries(resources)) {
    const p = props(id);
    if (res.Type === 'AWS::Lambda::EventSourceMapping') {
      // SQS → Lambda: CreateEventSourceMapping refuses a queue whose visibility timeout is below the function's timeout.
      const q = getAttId(p.EventSourceArn);
      const fn = refId(p.FunctionName) ?? getAttId(p.FunctionName);
      if (q && fn && resources[q]?.Type === 'AWS::SQS::Queue' && resources[fn]?.Type === 'AWS::Lambda::Function') {
        const visibility = Number(props(q).VisibilityTimeout ?? 30); // SQS's default
        const timeout = Number(props(fn).Timeout ?? 3); // Lambda's default
        if (visibility < timeout)
          out.push({
            path: `Resources.${id}`,
            message: `queue ${q} has a visibility timeout of ${visibility}s, below its consumer ${fn}'s timeout of ${timeout}s`,
          });
      }
    }
    if (res.Type === 'AWS::SQS::Queue') {
      const name = p.QueueName;
      const fifo = p.FifoQueue === true || p.FifoQueue === 'true';
      if (typeof name === 'string' && fifo !== name.endsWith('.fifo'))
        out.push({ path: `Resources.${id}.Properties.QueueName`, message: 'a FIFO queue’s name ends in .fifo, and only a FIFO queue’s' });
      const redrive = p.RedrivePolicy;
      const dlq = isObj(redrive) ? getAttId(redrive.deadLetterTargetArn) : undefined;
      if (dlq && resources[dlq]) {
        const dlqFifo = props(dlq).FifoQueue === true || props(dlq).FifoQueue === 'true';
        if (dlqFifo !== fifo)
          out.push({
            path: `Resources.${id}.Properties.RedrivePolicy`,
            message: `a ${fifo ? 'FIFO' : 'standard'} queue needs a ${fifo ? 'FIFO' : 'standard'} DLQ`,
          });
      }
    }
  }
  return out;
}
