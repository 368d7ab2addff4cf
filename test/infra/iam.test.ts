/**
 * Least privilege per function (issue 17): each role's statements pinned exactly (actions,
 * resources, conditions), and the table key prefixes checked against the code: the prefixes the
 * lib/store modules in a function's (tree-shaken) bundle build keys with must all be its own.
 */
import { build } from 'esbuild';
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { dlqName, queueName, routeTable } from '../../lib/routes.ts';
import { PROJECT_ROOT } from '../../infra/aws/gateway.ts';
import { logicalId, synthStack } from './support/synth.ts';
import { exampleConfig } from './support/config.ts';
import type { Config } from '../../lib/config/index.ts';

type Statement = Record<string, unknown>;
let template: Template;

beforeAll(() => {
  ({ template } = synthStack());
});

const fnDef = (id: string) => {
  const f = routeTable.functions.find((x) => x.id === id);
  if (!f) throw new Error(`no function ${id}`);
  return f;
};

/** Every statement of every policy attached to the function's role. */
function statementsOf(fnId: string): Statement[] {
  const lid = logicalId(template, 'AWS::Lambda::Function', (p) => p.Description === fnDef(fnId).description);
  const fn = template.findResources('AWS::Lambda::Function')[lid] as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } };
  const role = fn.Properties.Role['Fn::GetAtt'][0];
  const attached = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    ((p as { Properties: { Roles: unknown[] } }).Properties.Roles ?? []).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: role })),
  );
  // Nothing else may reach the role: no managed policies, no inline policies on the role itself.
  const roleRes = template.findResources('AWS::IAM::Role')[role] as { Properties: Record<string, unknown> };
  expect(roleRes.Properties.ManagedPolicyArns).toBeUndefined();
  expect(roleRes.Properties.Policies).toBeUndefined();
  return attached.flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
}

const getAtt = (type: string, pred: (p: Record<string, unknown>) => boolean, attr = 'Arn') => ({
  'Fn::GetAtt': [logicalId(template, type, pred), attr],
});
const queueArn = (qid: string) => {
  const q = routeTable.queues.find((x) => x.id === qid)!;
  return getAtt('AWS::SQS::Queue', (p) => p.QueueName === queueName(q));
};
const dlqArn = (qid: string) => {
  const q = routeTable.queues.find((x) => x.id === qid)!;
  return getAtt('AWS::SQS::Queue', (p) => p.QueueName === dlqName(q));
};
const tableArn = () => getAtt('AWS::DynamoDB::Table', () => true);
const SEND = ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];
const CONSUME = ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'];

const logs = (fnId: string) => {
  const ids = Object.keys(template.findResources('AWS::Logs::LogGroup')).filter((k) =>
    k.startsWith(`GatewayLogs${fnId.replace(/-/g, '')}`),
  );
  expect(ids).toHaveLength(1);
  return { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [ids[0], 'Arn'] } };
};
const secretArn = (name: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':secretsmanager:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:secret:amo-gateway/${name}`,
    ],
  ],
});
/** The worker: every secret under the prefix. */
const secrets = { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: secretArn('*') };
/** The others: exactly the named secrets (Secrets Manager's 6-character suffix). */
const secretsNamed = (names: string[]) => ({
  Action: 'secretsmanager:GetSecretValue',
  Effect: 'Allow',
  Resource: names.length === 1 ? secretArn(`${names[0]}-??????`) : names.map((n) => secretArn(`${n}-??????`)),
});
// amo.config.example.json's integrations' client secrets (it has no forms or onec section).
const CLIENT_SECRETS = ['client-secret/main-kommo', 'client-secret/main-ru'];
const table = (actions: string[], prefixes: string[]) => ({
  Action: actions.length === 1 ? `dynamodb:${actions[0]}` : actions.map((a) => `dynamodb:${a}`),
  Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((p) => `${p}*`) } },
  Effect: 'Allow',
  Resource: tableArn(),
});
const send = (resource: unknown) => ({ Action: SEND, Effect: 'Allow', Resource: resource });

// Sorted by JSON so the pin does not depend on the order CDK adds statements in.
const canon = (sts: Statement[]) => sts.map((s) => JSON.stringify(s)).sort();

describe('per-function policies (pinned)', () => {
  it('forms (public): send to the forms queue only, UpdateItem on FORMTHR# keys only, its log group (no form key in this config: no secret)', () => {
    expect(canon(statementsOf('forms'))).toEqual(canon([logs('forms'), send(queueArn('forms')), table(['UpdateItem'], ['FORMTHR#'])]));
  });

  it('oauth (public): no queue at all; tokens and OAuth states only; the client secrets only', () => {
    expect(canon(statementsOf('oauth'))).toEqual(
      canon([logs('oauth'), table(['GetItem', 'PutItem', 'DeleteItem'], ['TOKEN#', 'OAUTHSTATE#']), secretsNamed(CLIENT_SECRETS)]),
    );
  });

  it('onec (public): send to the onec queue only; its request records and what the managers call needs (token, budget, cache)', () => {
    expect(canon(statementsOf('onec'))).toEqual(
      canon([
        logs('onec'),
        send(queueArn('onec')),
        table(['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'], ['ONEC#REQ#', 'TOKEN#', 'RATE#', 'CACHE#']),
        secretsNamed(CLIENT_SECRETS),
      ]),
    );
  });

  it('token-refresh: no queue; tokens and their leases only; the client secrets only', () => {
    expect(canon(statementsOf('token-refresh'))).toEqual(
      canon([logs('token-refresh'), table(['GetItem', 'PutItem', 'DeleteItem'], ['TOKEN#']), secretsNamed(CLIENT_SECRETS)]),
    );
  });

  it('worker: consume + send (defer, park) on the queues it consumes and their DLQs, the flows’ key prefixes, PutEvents on the bus', () => {
    const consumed = routeTable.queues.filter((q) => q.consumer === 'worker').map((q) => q.id);
    expect(consumed.sort()).toEqual(routeTable.queues.map((q) => q.id).sort());
    const def = fnDef('worker');
    expect(canon(statementsOf('worker'))).toEqual(
      canon([
        logs('worker'),
        ...consumed.flatMap((q) => [send(queueArn(q)), send(dlqArn(q))]),
        ...consumed.flatMap((q) => [
          { Action: CONSUME, Effect: 'Allow', Resource: queueArn(q) },
          { Action: CONSUME, Effect: 'Allow', Resource: dlqArn(q) },
        ]),
        table(
          ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchGetItem', 'BatchWriteItem', 'Query'],
          [
            'TOKEN#',
            'RATE#',
            'CACHE#',
            'IDEM#',
            'DLQ#',
            'FIFO#',
            'RULES#',
            'FORMS#',
            'CIDX#',
            'RDESK#',
            'CHAT#',
            'CHATSCOPE#',
            'CHATCONV#',
            'ONEC#',
          ],
        ),
        secrets,
        { Action: 'events:PutEvents', Effect: 'Allow', Resource: getAtt('AWS::Events::EventBus', () => true) },
      ]),
    );
    expect(def.tableActions).not.toContain('Scan');
  });

  it('no function may Scan, use a wildcard action, or name the table’s indexes; every table statement carries the leading-keys condition', () => {
    for (const f of routeTable.functions) {
      for (const st of statementsOf(f.id)) {
        const actions = [st.Action].flat() as string[];
        expect(actions.some((a) => a.includes('*'))).toBe(false);
        expect(actions).not.toContain('dynamodb:Scan');
        if (actions.some((a) => a.startsWith('dynamodb:'))) {
          expect(st.Resource).toEqual(tableArn());
          expect(Object.keys((st.Condition as Record<string, unknown>) ?? {})).toEqual(['ForAllValues:StringLike']);
        }
      }
    }
  });
});

describe('secrets per function follow the config', () => {
  it('with forms and 1C sections: forms reads its form keys only, onec its callers’ keys and the client secrets; no hook token anywhere but the worker', () => {
    // The example without its RDESK section (the environment's 4 KB would not hold both).
    const { rdesk: _rdesk, ...example } = exampleConfig;
    const config = {
      ...example,
      forms: { list: [{ id: 'site', account: 'clinic', key: { secret: 'forms/site' }, lead: { pipeline: 'Sales' } }] },
      onec: {
        callers: [{ id: 'erp', key: { secret: 'onec/erp' } }],
        catalog: { accounts: [{ account: 'clinic', catalogId: 1, uidField: 2 }], price: { default: 'Base' } },
      },
    } as unknown as Config;
    const t = synthStack({ props: { config } }).template;
    const secretsOf = (fnId: string) => {
      const lid = logicalId(t, 'AWS::Lambda::Function', (p) => p.Description === fnDef(fnId).description);
      const role = (t.findResources('AWS::Lambda::Function')[lid] as { Properties: { Role: { 'Fn::GetAtt': [string] } } }).Properties.Role[
        'Fn::GetAtt'
      ][0];
      return Object.values(t.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify((p as { Properties: { Roles: unknown } }).Properties.Roles).includes(`"${role}"`))
        .flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement)
        .filter((st) => st.Action === 'secretsmanager:GetSecretValue');
    };
    expect(secretsOf('forms')).toEqual([secretsNamed(['forms/site'])]);
    expect(secretsOf('onec')).toEqual([secretsNamed([...CLIENT_SECRETS, 'onec/erp'])]);
    expect(secretsOf('oauth')).toEqual([secretsNamed(CLIENT_SECRETS)]);
    expect(secretsOf('worker')).toEqual([secrets]);
    for (const f of ['forms', 'onec', 'oauth', 'token-refresh']) expect(JSON.stringify(secretsOf(f))).not.toContain('hook-token');
  });
});

/**
 * Key prefixes a lib/store module in the function's bundle builds keys with but the function
 * never touches, each with why.
 */
const UNUSED_IN_BUNDLE: Record<string, Record<string, string>> = {
  worker: { 'OAUTHSTATE#': "DynamoTokenStore's class carries the OAuth-state methods; only the oauth function takes a state" },
  'token-refresh': { 'OAUTHSTATE#': 'idem: the refresh reads and writes tokens and their leases only' },
  onec: { 'OAUTHSTATE#': 'idem: the managers call only reads (and may refresh) a token' },
};

/** The partition-key prefixes of the lib/store modules in a function's tree-shaken bundle. */
async function storePrefixes(entry: string): Promise<string[]> {
  const out = await build({
    entryPoints: [`${PROJECT_ROOT}/${entry}`],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    treeShaking: true,
    logLevel: 'silent',
  });
  // Unminified, esbuild heads each module's code with `// <path>`: keep the stores' only.
  const sections = (out.outputFiles[0]?.text ?? '').split(/^\/\/ (?=\S+\.ts$)/m).filter((s) => s.startsWith('lib/store/'));
  return [...new Set(sections.flatMap((s) => [...s.matchAll(/[`'"]([A-Z][A-Z0-9_]*#(?:[A-Z][A-Z0-9_]*#)*)/g)].map((m) => m[1]!)))].sort();
}

describe('table key prefixes follow the code', () => {
  it.each(routeTable.functions.map((f) => [f.id, f] as const))(
    '%s owns every key prefix its bundled stores use (and nothing it never uses)',
    { timeout: 60_000 },
    async (id, def) => {
      const used = (await storePrefixes(def.entry)).filter((p) => !(p in (UNUSED_IN_BUNDLE[id] ?? {})));
      const owned = def.tableKeyPrefixes ?? [];
      const uncovered = used.filter((p) => !owned.some((o) => p.startsWith(o)));
      expect(uncovered, `${id} builds keys under prefixes its policy does not allow`).toEqual([]);
      // Every owned prefix is used by some store the function bundles (no grant left over).
      const idle = owned.filter((o) => !used.some((p) => p.startsWith(o)));
      expect(idle, `${id} owns prefixes none of its stores uses`).toEqual([]);
    },
  );

  it('the scan finds what it should: the forms bundle builds FORMTHR# keys and no other', async () => {
    expect(await storePrefixes(fnDef('forms').entry)).toEqual(['FORMTHR#']);
  });
});
