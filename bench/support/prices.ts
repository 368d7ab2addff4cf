/**
 * AWS list prices the cost figures of `bench/burst.ts` multiply by: one region (us-east-1), on-demand,
 * no free tier, no savings plans, the first pricing tier of each service.
 *
 * These are list prices AS KNOWN on 2025-06-01 and NOT re-checked: the bench machine has no network,
 * and the stored reference corpus holds no dated official pricing page. Each price names the
 * official page to check it against before quoting a figure to anyone.
 */
export interface Price {
  usd: number;
  per: string;
  source: string;
}

export const PRICE_REGION = 'us-east-1 (N. Virginia)';
export const PRICES_AS_OF = '2025-06-01 (list prices as known then; not re-checked on the bench machine, which has no network)';

export const PRICES = {
  apiGatewayRest: {
    usd: 3.5,
    per: 'million REST API requests (first 333 million a month)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  sqsStandard: {
    usd: 0.4,
    per: 'million standard-queue requests (each 64 KB chunk of a payload is one request)',
    source: 'https://aws.amazon.com/sqs/pricing/',
  },
  sqsFifo: { usd: 0.5, per: 'million FIFO-queue requests (64 KB chunks)', source: 'https://aws.amazon.com/sqs/pricing/' },
  lambdaRequests: { usd: 0.2, per: 'million invocations', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    per: 'GB-second, arm64 (first 7.5 billion GB-s a month)',
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  dynamoWrite: {
    usd: 0.625,
    per: 'million write request units, on-demand (1 KB each)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  dynamoRead: {
    usd: 0.125,
    per: 'million read request units, on-demand (4 KB strongly consistent, or 2 eventually consistent reads)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  eventBridgeCustom: {
    usd: 1.0,
    per: 'million custom events published (64 KB chunks)',
    source: 'https://aws.amazon.com/eventbridge/pricing/',
  },
  cloudWatchLogsIngest: {
    usd: 0.5,
    per: 'GB of log data ingested (standard class)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  secretsManagerApi: { usd: 0.05, per: '10 000 API calls', source: 'https://aws.amazon.com/secrets-manager/pricing/' },
} as const satisfies Record<string, Price>;

/** 64 KB chunks SQS and EventBridge bill a payload as. */
export const chunks64k = (bytes: number) => Math.max(1, Math.ceil(bytes / 65_536));
