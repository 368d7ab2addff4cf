/**
 * cdk-nag (AwsSolutions) findings the design accepts on purpose, each with its reason. The
 * checks themselves run in test/infra/nag.test.ts; anything not listed here fails that test.
 */
import { NagSuppressions } from 'cdk-nag';
import type { AmoGateway } from './gateway.ts';

export function applyNagSuppressions(gateway: AmoGateway): void {
  for (const fn of gateway.functions.values()) {
    NagSuppressions.addResourceSuppressions(fn, [
      {
        id: 'AwsSolutions-L1',
        reason:
          'Pinned to nodejs22.x on purpose (docs/architecture.md#runtime-versions): the code is tested on Node 20 and 22; a runtime bump is a deliberate change, not a drift.',
      },
    ]);
    if (fn.role) {
      NagSuppressions.addResourceSuppressions(
        fn.role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason: `The worker's flows read every secret the config references, so its grant is GetSecretValue on the deployment's prefix (${gateway.secretsPrefix}*) and nothing wider; the other functions get their own secrets by name (lib/routes.ts secretSections). Secrets Manager appends a random 6-character suffix to every secret ARN, hence the trailing -?????? on those.`,
            appliesTo: [`Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${gateway.secretsPrefix}*`],
          },
        ],
        true,
      );
    }
  }

  const api = gateway.api?.api;
  if (!api) return;
  NagSuppressions.addResourceSuppressions(
    api,
    [
      {
        id: 'AwsSolutions-APIG2',
        reason:
          'Bodies are stored raw and validated by the worker (which parks invalid ones with a reason); the edge only refuses unknown content types (passthroughBehavior NEVER → 415). A request validator would need models of amoCRM form bodies and would answer senders that never retry.',
      },
      {
        id: 'AwsSolutions-APIG4',
        reason:
          'Authorization is per route and cannot be an API Gateway authorizer: amoCRM hooks carry a per-account path token and amojo an HMAC over the raw body, both checked by the worker; RDESK cannot send credentials; function routes check their own (OAuth state, HMAC, API key, a site form’s key and Origin). The ANY methods are MOCK 405 answers.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason:
          'No end users: the callers are amoCRM, amojo, RDESK and server-to-server clients, none of which can present a Cognito token (see APIG4).',
      },
      {
        id: 'AwsSolutions-APIG3',
        reason: 'WAF is left to the deployment (cost; the stage is throttled). Attach a WebACL to the stage if the routes see abuse.',
      },
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logs would record raw request paths (they hold per-account route tokens) and, with data trace, bodies. Access logs are on and log $context.resourcePath only.',
      },
      {
        id: 'AwsSolutions-IAM4',
        reason:
          'AmazonAPIGatewayPushToCloudWatchLogs is the AWS-managed policy API Gateway requires for its account-level CloudWatch role (access logs).',
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs'],
      },
    ],
    true,
  );
}
