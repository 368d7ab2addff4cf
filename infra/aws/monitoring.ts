/**
 * Alarms and the dashboard of one AmoGateway: an SNS topic every alarm notifies (optionally with
 * an e-mail subscription), and
 * - each DLQ holding anything (something was parked: it waits for `dlq replay` or a purge);
 * - each main queue's oldest message older than 10 minutes (back-pressure: the rate budget, a
 *   blocked or unauthorized account, or a worker that cannot keep up);
 * - each function's Errors and Throttles (a function that throws is misconfigured or crashing:
 *   the worker reports per-message failures and never throws for one bad message);
 * - every custom metric with an alarm rule in the catalogue (lib/metrics.ts via metrics.ts;
 *   Metrics Insights aggregates), e.g. Parked (no-processor, …), DeferredMessageAge (lasting
 *   back-pressure, which the queue-age alarm cannot see: a deferral re-sends the message),
 *   ScheduledRefreshFailed.
 * The dashboard shows queue depths and ages, DLQ depths, the API's 4xx/5xx, worker duration,
 * parked by reason and every custom metric.
 */
import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HOOK_PARK_REASONS } from '../../lib/ingest/amocrm-hook.ts';
import { METRIC, type MetricStat } from '../../lib/metrics.ts';
import { PARK_REASONS } from '../../lib/pipeline/outcome.ts';
import type { Route } from '../../lib/routes.ts';
import { CUSTOM_METRICS, insightsQuery, type CustomMetric } from './metrics.ts';

/** Every alarm looks at 5-minute windows. */
export const ALARM_PERIOD = Duration.minutes(5);
/** The window of the alarms on a maximum (ages): longer than the 15-minute deferral of a blocked account. */
export const MAX_ALARM_PERIOD = Duration.minutes(20);
/** API 5xx in one window that page someone (a single failed send is retried by amoCRM; a run of them is not noise). */
export const API_5XX_ALARM_COUNT = 5;
/** A main queue whose oldest message is older than this is backed up. */
export const QUEUE_AGE_ALARM_SECONDS = 600;

/** The deferral reason of a call the open breaker refused (lib/amocrm/client/errors.ts AccountBlockedError). */
export const BREAKER_OPEN_DEFER_REASON = 'account-blocked';

/**
 * Parks of these reasons get their own alarm besides `…-Parked` (any reason): each has one cause
 * and one fix, which the alarm says.
 */
export const PARKED_REASON_ALARMS: ReadonlyArray<{ reason: string; meaning: string }> = [
  {
    reason: PARK_REASONS.noProcessor,
    meaning:
      'Messages of a route were parked no-processor: the deployed worker has no processor for the route (a flow not deployed yet, or its config section missing). `amo-gateway dlq list --reason no-processor` names the route; deploy the flow or add its config section, then `amo-gateway dlq replay --reason no-processor`.',
  },
  {
    reason: HOOK_PARK_REASONS.badToken,
    meaning:
      'Webhooks or RDESK pushes were parked bad-token: their path token matches no configured secret (a stale URL after a rotation, a removed account, a missing secret) or someone probes the routes. `amo-gateway dlq list --reason bad-token`; fix the URL in amoCRM / RDESK or the secret, then `dlq replay`; ignore probes.',
  },
];

export interface MonitoredQueue {
  readonly id: string;
  readonly queue: sqs.IQueue;
  readonly dlq: sqs.IQueue;
}

export interface MonitoringProps {
  /** Names the alarms (`<prefix>-…`) and the dashboard. */
  readonly namePrefix: string;
  readonly queues: readonly MonitoredQueue[];
  /** Every function, by route-table id. */
  readonly functions: ReadonlyMap<string, lambda.IFunction>;
  /** The functions whose duration the dashboard shows (the queue consumers). */
  readonly workers: readonly string[];
  readonly api?: apigw.RestApi;
  /** The API's routes: one ingest line each (API Gateway's per-method Count, detailed metrics on the route methods only). */
  readonly routes?: readonly Route[];
  /** Subscribes this address to the alarm topic (it must confirm the subscription). */
  readonly alarmEmail?: string;
  /** Default: CUSTOM_METRICS (metrics.ts). */
  readonly customMetrics?: readonly CustomMetric[];
}

export class GatewayMonitoring extends Construct {
  readonly topic: sns.Topic;
  /** By a stable key: `dlq:<queue>`, `age:<queue>`, `errors:<fn>`, `throttles:<fn>`, `metric:<name>`, `parked:<reason>`, `api:5xx`. */
  readonly alarms = new Map<string, cloudwatch.Alarm>();
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const prefix = props.namePrefix;
    const customMetrics = props.customMetrics ?? CUSTOM_METRICS;

    this.topic = new sns.Topic(this, 'Alarms', {
      displayName: `${prefix} alarms`,
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined) this.topic.addSubscription(new subs.EmailSubscription(props.alarmEmail));

    for (const q of props.queues) {
      this.alarm(`dlq:${q.id}`, `${prefix}-dlq-${q.id}`, {
        metric: q.dlq.metricApproximateNumberOfMessagesVisible({ period: ALARM_PERIOD, statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `Messages are parked in the DLQ of queue ${q.id}: they failed permanently or ran out of attempts, each with a reason in the DLQ index. \`amo-gateway dlq list\` / \`dlq show\` give the reason; fix the cause, then \`amo-gateway dlq replay\` (or purge what must not run). The alarm stays on while anything is parked.`,
      });
      this.alarm(`age:${q.id}`, `${prefix}-queue-age-${q.id}`, {
        metric: q.queue.metricApproximateAgeOfOldestMessage({ period: ALARM_PERIOD, statistic: 'Maximum' }),
        threshold: QUEUE_AGE_ALARM_SECONDS,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `The oldest message in queue ${q.id} is older than ${QUEUE_AGE_ALARM_SECONDS / 60} minutes: back-pressure. Messages wait (nothing is lost) while an account is rate-limited, blocked (AccountBlocked) or needs re-authorization (AccountNeedsReauth), or while the worker fails or is throttled. Check those alarms and the worker's logs.`,
      });
    }

    for (const [fid, fn] of props.functions) {
      this.alarm(`errors:${fid}`, `${prefix}-errors-${fid}`, {
        metric: fn.metricErrors({ period: ALARM_PERIOD, statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `Function ${fid} threw (a Lambda error, not a handled failure): usually a configuration problem (AMO_CONFIG_JSON, a missing secret, permissions) or a crash. Read the function's log group; SQS redelivers a failed worker batch, so nothing is lost meanwhile.`,
      });
      this.alarm(`throttles:${fid}`, `${prefix}-throttles-${fid}`, {
        metric: fn.metricThrottles({ period: ALARM_PERIOD, statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `Lambda throttled function ${fid}: the account's concurrency is exhausted (or a reserved concurrency is too low). Queue messages wait; the OAuth routes answer 5xx meanwhile. Raise the concurrency quota or find what else consumes it.`,
      });
    }

    if (props.api) {
      // amoCRM disables a webhook after > 100 failed answers in 2 h: an edge that cannot enqueue must page someone.
      this.alarm('api:5xx', `${prefix}-api-5xx`, {
        metric: props.api.metricServerError({ period: ALARM_PERIOD, statistic: 'Sum' }),
        threshold: API_5XX_ALARM_COUNT,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription: `The API answered ≥ ${API_5XX_ALARM_COUNT} 5xx in 5 minutes: the edge could not enqueue (SQS refused or throttled the send, or its role lost the permission) or the OAuth routes failed. amoCRM retries failed webhook deliveries but disables the subscription after more than 100 failures in 2 hours, so act now: check the API's execution logs and the queues.`,
      });
    }

    for (const m of customMetrics) {
      if (!m.alarm) continue;
      const what = m.alarm.stat === 'MAX' ? `max ${m.name}` : m.name;
      // An age is reported once per deferral, and a blocked account's messages come back every 15 min:
      // a 5-minute window would flap ALARM → OK → ALARM while the back-pressure lasts.
      const period = m.alarm.stat === 'MAX' ? MAX_ALARM_PERIOD : ALARM_PERIOD;
      this.alarm(`metric:${m.name}`, `${prefix}-${m.name}`, {
        metric: customMetric(m.name, undefined, period, m.alarm.stat),
        threshold: m.alarm.atLeast,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // CloudWatch caps an alarm description at 1024 characters.
        alarmDescription: truncate(
          `${what} ≥ ${m.alarm.atLeast}${m.unit === 'Seconds' ? ' s' : ''} in ${period.toMinutes()} minutes. ${m.alarm.meaning}`,
          1024,
        ),
      });
    }

    for (const { reason, meaning } of PARKED_REASON_ALARMS) {
      this.alarm(`parked:${reason}`, `${prefix}-parked-${reason}`, {
        metric: new cloudwatch.MathExpression({
          expression: insightsQuery(METRIC.parked, undefined, 'SUM', { reason }),
          usingMetrics: {},
          period: ALARM_PERIOD,
          label: `Parked ${reason}`,
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription: truncate(`Parked (reason ${reason}) ≥ 1 in 5 minutes. ${meaning}`, 1024),
      });
    }

    this.dashboard = this.makeDashboard(props, customMetrics);
  }

  private alarm(
    key: string,
    name: string,
    opts: Omit<cloudwatch.AlarmProps, 'alarmName' | 'evaluationPeriods' | 'treatMissingData'>,
  ): void {
    const alarm = new cloudwatch.Alarm(this, `Alarm-${key.replace(/[^A-Za-z0-9]/g, '-')}`, {
      ...opts,
      alarmName: name,
      evaluationPeriods: 1,
      // No data = nothing happened (idle queues stop reporting; custom metrics are only emitted when counted).
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const action = new cwActions.SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    this.alarms.set(key, alarm);
  }

  private makeDashboard(props: MonitoringProps, customMetrics: readonly CustomMetric[]): cloudwatch.Dashboard {
    const period = Duration.minutes(1);
    const five = Duration.minutes(5);
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.namePrefix,
      defaultInterval: Duration.hours(6),
    });
    const byQueue = (f: (q: MonitoredQueue) => cloudwatch.IMetric) => props.queues.map(f);
    const text = (markdown: string) => new cloudwatch.TextWidget({ markdown, width: 24, height: 1 });

    // Ingest: what arrives, per route (API Gateway's Count per resource + method: the queue's
    // NumberOfMessagesSent would also count the worker's own re-sends of deferred messages, and two
    // routes share the rdesk queue).
    dashboard.addWidgets(text('## Ingest: requests per route, API errors'));
    const row: cloudwatch.IWidget[] = [];
    if (props.api) {
      const api = props.api;
      row.push(
        new cloudwatch.GraphWidget({
          title: 'Ingest: requests per route',
          width: 16,
          left: (props.routes ?? []).map((r) => routeMetric(api, r, 'Count', period)),
        }),
        new cloudwatch.GraphWidget({
          title: 'API acks: requests, 4xx, 5xx',
          width: 8,
          left: [api.metricCount({ period, statistic: 'Sum', label: 'requests' })],
          right: [
            api.metricClientError({ period, statistic: 'Sum', label: '4xx' }),
            api.metricServerError({ period, statistic: 'Sum', label: '5xx' }),
          ],
        }),
      );
    }
    if (row.length) dashboard.addWidgets(...row);

    // Every queue (one per flow): its outcomes, its depth and DLQ, its oldest message.
    dashboard.addWidgets(text('## Flows: one row per queue — outcomes, depth and DLQ, oldest message'));
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Queue depth (visible messages)',
        width: 8,
        left: byQueue((q) => q.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: q.id })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Oldest message age (s) — back-pressure',
        width: 8,
        left: byQueue((q) => q.queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum', label: q.id })),
        leftAnnotations: [{ value: QUEUE_AGE_ALARM_SECONDS, label: 'alarm' }],
      }),
      new cloudwatch.GraphWidget({
        title: 'DLQ depth (parked)',
        width: 8,
        left: byQueue((q) => q.dlq.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: `${q.id} DLQ` })),
      }),
    );
    // One Metrics Insights query per widget: a GetMetricData call (one widget) takes only one.
    const graph = (title: string, width: number, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, width, left, ...extra });
    for (const q of props.queues) {
      const where = { queue: q.id };
      dashboard.addWidgets(
        graph(`${q.id}: processed`, 4, [insights(METRIC.processed, undefined, five, 'SUM', where, 'processed')]),
        graph(`${q.id}: deferred by reason`, 4, [insights(METRIC.deferred, 'reason', five, 'SUM', where)]),
        graph(`${q.id}: parked by reason`, 4, [insights(METRIC.parked, 'reason', five, 'SUM', where)]),
        graph(`${q.id}: depth and DLQ`, 4, [
          q.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'visible' }),
          q.queue.metricApproximateNumberOfMessagesNotVisible({ period, statistic: 'Maximum', label: 'in flight' }),
          q.dlq.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'DLQ' }),
        ]),
        graph(
          `${q.id}: oldest message (s)`,
          4,
          [q.queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum', label: 'oldest' })],
          {
            leftAnnotations: [{ value: QUEUE_AGE_ALARM_SECONDS, label: 'alarm' }],
          },
        ),
        graph(`${q.id}: max deferred age (s)`, 4, [insights(METRIC.deferredAge, undefined, five, 'MAX', where, 'deferred age')]),
      );
    }

    // amoCRM, per account: calls by outcome, 429s, rate-budget waits, the breaker, token age.
    dashboard.addWidgets(text('## amoCRM per account: calls, 429s, rate budget, breaker, token age'));
    const tokenAgeAlarm = customMetrics.find((m) => m.name === METRIC.tokenAge)?.alarm;
    dashboard.addWidgets(
      graph('amoCRM calls by account and outcome', 8, [insights(METRIC.amoCalls, ['account', 'outcome'], five)]),
      graph('amoCRM 429s by account', 8, [insights(METRIC.rateLimited, 'account', five)]),
      graph('Rate-budget waits by account', 8, [insights(METRIC.budgetWaits, 'account', five)]),
    );
    dashboard.addWidgets(
      graph('Rate budget exhausted (deferred) by account', 6, [insights(METRIC.budgetExhausted, 'account', five)]),
      graph('Breaker: blocks opened by account', 6, [insights(METRIC.blocked, 'account', five)]),
      graph('Breaker: messages held by an open breaker, by queue', 6, [
        insights(METRIC.deferred, 'queue', five, 'SUM', { reason: BREAKER_OPEN_DEFER_REASON }),
      ]),
      graph('Token age (s) by account', 6, [insights(METRIC.tokenAge, 'account', Duration.minutes(10), 'MAX')], {
        ...(tokenAgeAlarm ? { leftAnnotations: [{ value: tokenAgeAlarm.atLeast, label: 'alarm' }] } : {}),
      }),
    );

    dashboard.addWidgets(text('## Functions'));
    const workers = props.workers
      .map((id) => [id, props.functions.get(id)] as const)
      .filter((w): w is readonly [string, lambda.IFunction] => w[1] !== undefined);
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Worker duration (ms)',
        width: 12,
        left: workers.flatMap(([id, fn]) =>
          ['Average', 'p99', 'Maximum'].map((statistic) => fn.metricDuration({ period, statistic, label: `${id} ${statistic}` })),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Function errors and throttles',
        width: 12,
        left: [...props.functions].flatMap(([id, fn]) => [
          fn.metricErrors({ period, statistic: 'Sum', label: `${id} errors` }),
          fn.metricThrottles({ period, statistic: 'Sum', label: `${id} throttles` }),
        ]),
      }),
    );

    // Every metric of the catalogue, one widget each (the full list, whatever the rows above show).
    dashboard.addWidgets(text('## Every custom metric (lib/metrics.ts)'));
    const metricWidgets = customMetrics.map(
      (m) =>
        new cloudwatch.GraphWidget({
          title: `${m.stat === 'MAX' ? 'max ' : ''}${m.name}${m.unit === 'Seconds' ? ' (s)' : ''}${m.groupBy ? ` by ${m.groupBy}` : ''}`,
          width: 6,
          left: [customMetric(m.name, m.groupBy, five, m.stat)],
          ...(m.alarm ? { leftAnnotations: [{ value: m.alarm.atLeast, label: 'alarm' }] } : {}),
        }),
    );
    for (let i = 0; i < metricWidgets.length; i += 4) dashboard.addWidgets(...metricWidgets.slice(i, i + 4));
    dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: [...this.alarms.values()] }));
    return dashboard;
  }
}

/** API Gateway's per-method metric of a route (needs the method's detailed metrics: api.ts turns them on per route). */
export function routeMetric(api: apigw.RestApi, route: Route, metricName: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/ApiGateway',
    metricName,
    dimensionsMap: { ApiName: api.restApiName, Method: route.method, Resource: route.path, Stage: api.deploymentStage.stageName },
    period,
    statistic: 'Sum',
    label: route.id,
  });
}

/** A Metrics Insights query widget line (ungrouped lines get `label`; grouped ones are named by their groups). */
function insights(
  name: string,
  groupBy: string | readonly string[] | undefined,
  period: Duration,
  stat: MetricStat = 'SUM',
  where: Readonly<Record<string, string>> = {},
  label?: string,
): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: insightsQuery(name, groupBy, stat, where),
    usingMetrics: {},
    period,
    label: groupBy ? '' : (label ?? name),
  });
}

/**
 * A custom metric as a Metrics Insights query: the aggregate over every dimension set (metrics.ts). A
 * grouped query gets no label (CDK drops an empty one; any other, or none, would name every line
 * alike), so CloudWatch names each line by its group's value.
 */
export function customMetric(
  name: string,
  groupBy: string | undefined,
  period: Duration,
  stat: MetricStat = 'SUM',
): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: insightsQuery(name, groupBy, stat),
    usingMetrics: {},
    period,
    label: groupBy ? '' : name,
  });
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
