/**
 * The ONE catalogue of the custom metrics the gateway's code emits (namespace `AmoGateway`;
 * Powertools adds the `service` dimension). Emitting code takes its names from `METRIC` here; the
 * CDK app builds the dashboard and the alarms from `METRIC_CATALOGUE` (infra/aws/metrics.ts); a
 * test scans lib/ and functions/ for emissions whose name does not come from here, and another
 * checks that every entry has its widget and, when it has an alarm rule, its alarm.
 *
 * Rule: a metric that signals trouble has an alarm. Dashboard-only metrics are the ones that
 * count normal work (refreshes, installs, events, expected back-pressure).
 *
 * Renaming a metric renames its alarm and breaks dashboards and alarms built on the old name:
 * keep names stable.
 */

/** CloudWatch units the code emits with. */
export type MetricUnit = 'Count' | 'Seconds';

/** How an alarm reads the metric over its 5-minute window (a Metrics Insights aggregate). */
export type MetricStat = 'SUM' | 'MAX';

export interface MetricAlarmRule {
  /** The aggregate compared; SUM for counts, MAX for ages. */
  readonly stat: MetricStat;
  /** Fires when the 5-minute aggregate is ≥ this. */
  readonly atLeast: number;
  /** What to do when it fires (the alarm's description continues the metric's meaning with it). */
  readonly action: string;
}

export interface MetricInfo {
  readonly unit: MetricUnit;
  /** What one data point means: the alarm's description and the README's table. */
  readonly meaning: string;
  /** The dimensions the code adds (besides Powertools' `service`). */
  readonly dimensions: readonly string[];
  /** The dimension the dashboard splits the graph by (`GROUP BY`). */
  readonly groupBy?: string;
  /** Alarm rule; absent = dashboard only (the metric counts normal work). */
  readonly alarm?: MetricAlarmRule;
}

/** Metric names, by the key the code uses. */
export const METRIC = {
  // ingest and the worker pipeline
  badToken: 'WebhookBadToken',
  processed: 'Processed',
  parked: 'Parked',
  deferred: 'Deferred',
  deferredAge: 'DeferredMessageAge',
  dlqIndexFailed: 'DlqIndexWriteFailed',
  mirrorFailed: 'MirrorFailed',
  eventsPublished: 'EventsPublished',
  // OAuth (lib/amocrm/oauth)
  refreshed: 'TokenRefreshed',
  refreshFailed: 'TokenRefreshFailed',
  scheduledRefreshFailed: 'ScheduledRefreshFailed',
  refreshBusy: 'TokenRefreshBusy',
  needsReauth: 'AccountNeedsReauth',
  disconnected: 'AccountDisconnected',
  installed: 'AccountInstalled',
  longLivedExpiring: 'LongLivedTokenExpiringSoon',
  // the amoCRM REST client (lib/aws/amo-client-runtime.ts)
  blocked: 'AccountBlocked',
  rateLimited: 'AmoRateLimited',
  budgetExhausted: 'RateBudgetExhausted',
  amoCalls: 'AmoCalls',
  budgetWaits: 'RateBudgetWaits',
  // the scheduled token refresh (lib/amocrm/oauth)
  tokenAge: 'TokenAgeSeconds',
  // RDESK pushes (lib/flows/rdesk)
  rdeskBadToken: 'RdeskBadToken',
  // site forms, the ingress (lib/flows/forms/ingress)
  formAccepted: 'FormAccepted',
  formRejected: 'FormRejected',
  formSpam: 'FormSpam',
  formThrottled: 'FormThrottled',
  formEnqueueFailed: 'FormEnqueueFailed',
  // the chat channel (lib/amojo)
  chatCallbackRejected: 'ChatCallbackRejected',
  chatRelayFailed: 'ChatRelayFailed',
  // the rules engine (lib/rules)
  rulesFired: 'RulesFired',
  rulesHopLimit: 'RulesHopLimit',
  // site forms (lib/flows/forms)
  formSubmissions: 'FormSubmissions',
  formAmoWrites: 'FormAmoWrites',
  // finding "the same person" in amoCRM (lib/contacts)
  contactsFound: 'ContactsFound',
  contactSearches: 'ContactSearches',
  contactIndexStale: 'ContactIndexStale',
  contactAmbiguous: 'ContactMatchAmbiguous',
  // the 1C exchange (lib/flows/onec)
  onecBadKey: 'OnecBadKey',
  onecRequests: 'OnecRequests',
  onecExported: 'OnecExported',
  onecExportFailed: 'OnecExportFailed',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** A deferred message older than this (seconds since the edge received it) raises the deferral-age alarm. *assumed* */
export const DEFERRAL_AGE_ALARM_SECONDS = 3600;

/** An access token older than this (seconds) raises the token-age alarm: 16 h, 4 h past the half-life refresh. *assumed* */
export const TOKEN_AGE_ALARM_SECONDS = 16 * 3600;

// No side effects: a bundle that uses only METRIC (every function) drops the catalogue (its prose is for the CDK app).
const sum = /* @__NO_SIDE_EFFECTS__ */ (atLeast: number, action: string): MetricAlarmRule => ({ stat: 'SUM', atLeast, action });

/** Every metric the code emits. The Record type makes a name without an entry a compile error. */
export const METRIC_CATALOGUE: Readonly<Record<MetricName, MetricInfo>> = {
  WebhookBadToken: {
    unit: 'Count',
    meaning:
      "An amoCRM webhook arrived with a path token no configured account has (an account's hookToken secret); it was parked with reason bad-token.",
    dimensions: [],
    alarm: sum(
      1,
      'A hook URL set in amoCRM is stale (token rotated, account removed from the config, secret missing) or someone is probing the route. `amo-gateway dlq list --reason bad-token`; fix the hook URL in amoCRM or the secret, then `dlq replay`; ignore probes.',
    ),
  },
  ChatCallbackRejected: {
    unit: 'Count',
    meaning:
      'An amojo callback (/chat/amojo/{scope_id}) had a missing, malformed or wrong X-Signature, or was stale (its signed time over 15 minutes from its receipt); it was parked (amojo-bad-signature / amojo-stale-callback) and never relayed.',
    dimensions: ['reason'],
    groupBy: 'reason',
    alarm: sum(
      1,
      'The channel secret in the config differs from the one amoCRM support issued, or someone is forging or replaying callbacks. `amo-gateway dlq list --queue amojo --reason amojo-bad-signature`; fix the secret (then `dlq replay`), ignore forgeries.',
    ),
  },
  ChatRelayFailed: {
    unit: 'Count',
    meaning:
      "A manager's reply could not be delivered to the messenger (refused, down past the retries, or no messenger for the chat); amoCRM was sent delivery status error and the callback was parked.",
    dimensions: ['reason'],
    groupBy: 'reason',
    alarm: sum(
      1,
      "The messenger's webhook is down or refuses the relay (check its URL and secret in chat.messengers). The managers saw the failure in amoCRM; `amo-gateway dlq replay --queue amojo --reason chat-relay-failed` once it is back.",
    ),
  },
  RdeskBadToken: {
    unit: 'Count',
    meaning:
      "An RDESK push (/zdrav/booked, /zdrav/mc) arrived with a path token matching no rdesk account's token secret; it was parked with reason bad-token.",
    dimensions: ['route'],
    groupBy: 'route',
    alarm: sum(
      1,
      "RDESK's push URLs hold a stale token (rotated, account removed, secret missing), or someone is probing the route. `amo-gateway dlq list --reason bad-token --queue rdesk`; fix RDESK's URLs or the secret, then `dlq replay`; ignore probes.",
    ),
  },
  Processed: {
    unit: 'Count',
    meaning:
      "A message left its queue done (its processor answered ok: written, skipped as a duplicate, or nothing to do), by queue (the flow). With Deferred and Parked by queue it gives each flow's outcomes.",
    dimensions: ['queue'],
    groupBy: 'queue',
  },
  Parked: {
    unit: 'Count',
    meaning:
      'A message was parked in its DLQ (counted when the DLQ send succeeded), whatever decided it: a processor, the pipeline (bad-envelope, unknown-route, no-processor, body-too-large), out-of-attempts, deferred-too-long or (FIFO) receive-limit.',
    dimensions: ['queue', 'reason'],
    groupBy: 'reason',
    alarm: sum(
      1,
      "`amo-gateway dlq list` / `dlq show` give the reason. no-processor: the route has no processor deployed yet (deploy it, then `dlq replay`); deferred-too-long: see DeferredMessageAge; receive-limit: a FIFO message used up its queue's maxReceiveCount behind failures (docs/architecture.md#failure-semantics), replay it once the cause is fixed; others: fix the cause, then replay or purge.",
    ),
  },
  Deferred: {
    unit: 'Count',
    meaning:
      'A message was deferred (back-pressure: rate budget spent, account blocked, needs re-authorization) and comes back after a delay; not a failure.',
    dimensions: ['queue', 'reason'],
    groupBy: 'reason',
  },
  DeferredMessageAge: {
    unit: 'Seconds',
    meaning: `Age (seconds since the edge received it) of a message at each deferral. Deferrals re-send the message, so the queue's oldest-message age does not show how long back-pressure has lasted; this does. A message still deferred past the pipeline's cap (default 24 h) is parked deferred-too-long.`,
    dimensions: ['queue', 'reason'],
    groupBy: 'reason',
    alarm: {
      stat: 'MAX',
      atLeast: DEFERRAL_AGE_ALARM_SECONDS,
      action:
        'Messages have waited over an hour: look at Deferred by reason, AccountBlocked, AccountNeedsReauth, AmoRateLimited and RateBudgetExhausted; fix the account or the load before the cap parks them.',
    },
  },
  DlqIndexWriteFailed: {
    unit: 'Count',
    meaning:
      'A parked message is in its DLQ but its DLQ index write failed, so `dlq list` does not show it (only `dlq list --scan`, as unindexed).',
    dimensions: [],
    alarm: sum(
      1,
      "Check the table (name, permissions, throttling) in the worker's log; `amo-gateway dlq list --scan` shows the unindexed messages; replay works on them.",
    ),
  },
  MirrorFailed: {
    unit: 'Count',
    meaning: 'A mirror send (best effort, never changing the outcome) failed: HTTP error, timeout, network, missing or unverifiable token.',
    dimensions: [],
    alarm: sum(
      5,
      'The mirror deployment is down or refuses our requests (its URL or token secret); the mirror misses these requests, nothing else is affected. *assumed* threshold: 5 in 5 minutes, so one blip does not page.',
    ),
  },
  EventsPublished: {
    unit: 'Count',
    meaning: 'amoCRM events published to the event bus (one data point per message, value = events).',
    dimensions: [],
  },
  FormAccepted: {
    unit: 'Count',
    meaning: 'A site-form post was validated and queued on the forms queue (answered 202).',
    dimensions: ['form'],
    groupBy: 'form',
  },
  FormRejected: {
    unit: 'Count',
    meaning:
      'A site-form post was refused before anything was queued, by reason: unknown-form, bad-key, origin, unsupported-media-type, too-large, malformed, invalid (field errors). Senders are told why; nothing is lost that they cannot resend.',
    dimensions: ['reason'],
    groupBy: 'reason',
  },
  FormSpam: {
    unit: 'Count',
    meaning:
      "A site-form post filled the form's honeypot field: answered like an accepted post (202 with an id) so the bot learns nothing, and not queued.",
    dimensions: ['form'],
    groupBy: 'form',
  },
  FormThrottled: {
    unit: 'Count',
    meaning: "A site-form post went over the form's per-IP throttle (per minute or per hour) and was answered 429 with Retry-After.",
    dimensions: ['form'],
    groupBy: 'form',
  },
  FormEnqueueFailed: {
    unit: 'Count',
    meaning:
      'A valid site-form post could not be sent to the forms queue (SQS error or timeout): answered 503 with Retry-After, so a browser shows the error and a server sender retries; nothing was queued.',
    dimensions: [],
    alarm: sum(
      1,
      "People's form posts are being refused: check the forms function's log (it names the SQS error), the queue, and the function's sqs:SendMessage grant.",
    ),
  },
  RulesFired: {
    unit: 'Count',
    meaning: 'A configured rule fired for an amoCRM event (lib/rules), whether or not it had anything left to write.',
    dimensions: ['account'],
    groupBy: 'account',
  },
  RulesHopLimit: {
    unit: 'Count',
    meaning:
      'A lead or contact ran more rules than rules.hopLimit within rules.hopWindowSeconds: the rules stopped for it (a loop between rules, or with another integration).',
    dimensions: ['account'],
    groupBy: 'account',
    alarm: sum(1, 'Find the rules that keep firing for the entity (log line "rules: hop limit") and break the cycle in the config.'),
  },
  FormSubmissions: {
    unit: 'Count',
    meaning:
      'A site-form submission was written to amoCRM, by form and outcome: created (a new lead), merged (an open lead of the contact reused), repeat (the same person within the repeat window: one more note) or unsorted (an Unsorted entry).',
    dimensions: ['form', 'outcome'],
    groupBy: 'outcome',
  },
  FormAmoWrites: {
    unit: 'Count',
    meaning:
      'amoCRM write requests the forms flow sent (leads/complex, notes, tag PATCHes, Unsorted adds), per account; with FormSubmissions it gives the writes per submission.',
    dimensions: ['account'],
    groupBy: 'account',
  },
  ContactsFound: {
    unit: 'Count',
    meaning:
      "A person (phone / e-mail) was matched to an existing amoCRM contact, verified against its stored values (lib/contacts); via = index (our own index) or search (amoCRM's query).",
    dimensions: ['account', 'via'],
    groupBy: 'via',
  },
  ContactSearches: {
    unit: 'Count',
    meaning:
      'A `query` search amoCRM was asked for a person the contact index did not know (one request each; lib/contacts). Many of them mean the index is not built or not kept fresh (`amo-gateway contacts index status`).',
    dimensions: ['account'],
    groupBy: 'account',
  },
  ContactIndexStale: {
    unit: 'Count',
    meaning:
      'Contact index entries that failed verification (the contact no longer carries that phone / e-mail, or is gone) and were removed (value = entries).',
    dimensions: ['account'],
    groupBy: 'account',
  },
  ContactMatchAmbiguous: {
    unit: 'Count',
    meaning:
      'Several amoCRM contacts really carry the phone / e-mail looked for (duplicates in the account): the most recently updated was taken and the ids were logged.',
    dimensions: ['account'],
    groupBy: 'account',
  },
  TokenRefreshed: {
    unit: 'Count',
    meaning: "An account's OAuth token pair was refreshed (by the schedule, on expiry or after a 401).",
    dimensions: ['account', 'reason'],
    groupBy: 'account',
  },
  TokenRefreshFailed: {
    unit: 'Count',
    meaning:
      "A token refresh failed at amoCRM's token endpoint (kind = revoked, invalid-grant, invalid-client, blocked, throttled, transient, bad-response) or its result could not be stored (kind = store).",
    dimensions: ['account', 'kind'],
    groupBy: 'kind',
    alarm: sum(
      3,
      "`amo-gateway token status`; the function's log names the account. Transient kinds pass by themselves (the grace rule covers a lost write); revoked / invalid-client end in AccountNeedsReauth. *assumed* threshold: 3 in 5 minutes.",
    ),
  },
  ScheduledRefreshFailed: {
    unit: 'Count',
    meaning:
      'The scheduled refresh could not check or refresh an account (kind = secrets: the client secret could not be read; store: the token table failed; token-endpoint: amoCRM failed; unknown: anything else).',
    dimensions: ['account', 'kind'],
    groupBy: 'kind',
    alarm: sum(
      1,
      "Read the token-refresh function's log (it names the account and the error); secrets: the Secrets Manager secret and the function's grant; store: the table and its permissions. Tokens expire if this persists: `amo-gateway token refresh --account <id>` once fixed.",
    ),
  },
  TokenRefreshBusy: {
    unit: 'Count',
    meaning:
      'A caller gave up waiting for another holder of the refresh lease (the token endpoint or the table is slow, or a holder died holding it).',
    dimensions: ['account'],
    groupBy: 'account',
    alarm: sum(
      5,
      "A refresh is hanging: check amoCRM's token endpoint and the table's latency in the logs; the lease runs out by itself. *assumed* threshold: 5 in 5 minutes.",
    ),
  },
  AccountNeedsReauth: {
    unit: 'Count',
    meaning:
      "An account's grant is dead (refresh token revoked, client secret wrong, long-lived token expired); its messages are deferred, not lost.",
    dimensions: ['account'],
    groupBy: 'account',
    alarm: sum(
      1,
      '`amo-gateway token status` names the account and reason; fix the secret or run `amo-gateway auth link --account <id>` as an account admin.',
    ),
  },
  AccountDisconnected: {
    unit: 'Count',
    meaning:
      'amoCRM told us (disconnect hook) that the integration was removed from an account; its messages are deferred until it is installed again (then parked deferred-too-long).',
    dimensions: ['account'],
    groupBy: 'account',
    alarm: sum(
      1,
      'Ask the account owner whether it was intended; install again (`amo-gateway auth link --account <id>`) or remove the account from the config.',
    ),
  },
  AccountInstalled: {
    unit: 'Count',
    meaning: 'An account was connected (OAuth callback, a pasted code, or a long-lived token).',
    dimensions: ['account', 'via'],
    groupBy: 'account',
  },
  LongLivedTokenExpiringSoon: {
    unit: 'Count',
    meaning: "An account's long-lived token expires within a week (counted by each scheduled run).",
    dimensions: ['account'],
    groupBy: 'account',
    alarm: sum(1, 'Issue a new long-lived token in amoCRM and store it: `amo-gateway auth long-lived - --account <id>`.'),
  },
  AccountBlocked: {
    unit: 'Count',
    meaning:
      'amoCRM answered 403: the account is blocked (usually after repeated 429s) and every worker has stopped calling it (the breaker opened; counted once per block across containers). Messages are deferred, not lost.',
    dimensions: ['account'],
    groupBy: 'account',
    alarm: sum(
      1,
      'Only amoCRM support lifts the block: open a ticket; once lifted, run `amo-gateway breaker lift --account <id> --yes` (deferred messages come back within 15 minutes).',
    ),
  },
  AmoRateLimited: {
    unit: 'Count',
    meaning: 'amoCRM answered 429 although the shared rate budget should make that impossible; repeated 429s lead to a 403 block.',
    dimensions: ['account'],
    groupBy: 'account',
    alarm: sum(
      1,
      'Something else calls the account with the same integration (another deployment, a script), or the budget is misconfigured; find it before amoCRM blocks the account.',
    ),
  },
  RateBudgetExhausted: {
    unit: 'Count',
    meaning:
      "A worker's call found no slot in the account's shared rate budget in time and its message was deferred: expected back-pressure under load (DeferredMessageAge alarms when it lasts).",
    dimensions: ['account'],
    groupBy: 'account',
  },
  AmoCalls: {
    unit: 'Count',
    meaning:
      'Requests the shared amoCRM REST client sent, per account and outcome (2xx, 3xx, 401, 403, 429, 4xx, 5xx, network: no answer); retries count again. Calls the breaker or the budget kept from being sent are not counted here (AccountBlocked, RateBudgetExhausted).',
    dimensions: ['account', 'outcome'],
    groupBy: 'outcome',
  },
  RateBudgetWaits: {
    unit: 'Count',
    meaning:
      "Pauses of calls waiting for a slot of the account's shared rate budget before being sent (amoCRM's 7 requests/s per account; one per pause, a long wait pauses several times): normal under load; with RateBudgetExhausted they mean the load exceeds the budget.",
    dimensions: ['account'],
    groupBy: 'account',
  },
  TokenAgeSeconds: {
    unit: 'Seconds',
    meaning:
      "Age of an account's OAuth access token (seconds since it was issued), reported by every scheduled refresh run (every 5 minutes) for each connected OAuth account: the schedule refreshes at half-life (12 h for amoCRM's 24 h tokens), so it stays under about 12 h while refreshing works.",
    dimensions: ['account'],
    groupBy: 'account',
    alarm: {
      stat: 'MAX',
      atLeast: TOKEN_AGE_ALARM_SECONDS,
      action:
        "Refreshing has not worked for hours and the token expires at 24 h: see TokenRefreshFailed / ScheduledRefreshFailed and the token-refresh function's log; `amo-gateway token status`, then `amo-gateway token refresh --account <id>` once the cause is fixed.",
    },
  },
  OnecBadKey: {
    unit: 'Count',
    meaning: 'A call of the 1C API (/1c/...) was refused 401: no key, or a key no configured caller holds.',
    dimensions: [],
    alarm: sum(10, 'A 1C base lost its key after a rotation, or someone is guessing keys: check the callers and their secrets.'),
  },
  OnecRequests: {
    unit: 'Count',
    meaning: 'A 1C API request accepted (202) and queued, by operation.',
    dimensions: ['operation'],
    groupBy: 'operation',
  },
  OnecExported: {
    unit: 'Count',
    meaning: 'A deal exported to 1C (EditApplication answered, ids written back, note added).',
    dimensions: ['account'],
    groupBy: 'account',
  },
  OnecExportFailed: {
    unit: 'Count',
    meaning:
      'A deal export to 1C failed (1C down or refusing, amoCRM failing); the lead has a note and a task, the message is retried and then parked.',
    dimensions: ['account'],
    groupBy: 'account',
    alarm: sum(5, 'Check that 1C is up and its HTTP service answers; parked exports are replayed with `amo-gateway dlq replay`.'),
  },
};

/** The catalogue as a list, in declaration order. */
export function catalogue(): Array<MetricInfo & { name: MetricName }> {
  return (Object.entries(METRIC_CATALOGUE) as Array<[MetricName, MetricInfo]>).map(([name, info]) => ({ name, ...info }));
}

/** The unit a metric is emitted with (Count for a name the catalogue lacks). */
export function metricUnit(name: string): MetricUnit {
  return (METRIC_CATALOGUE as Readonly<Record<string, MetricInfo | undefined>>)[name]?.unit ?? 'Count';
}

/**
 * Counts summed in memory and emitted once per invocation per dimension set
 * (lib/common/metrics-sink.ts `aggregatingSink`): a per-call EMF line would cost one log line per
 * amoCRM request or message. Counts only (a sum of ages would mean nothing). A list apart from the
 * catalogue, so a function bundle that asks does not carry the catalogue's prose.
 */
const AGGREGATED: ReadonlySet<string> = new Set<MetricName>(['Processed', 'AmoCalls', 'RateBudgetWaits']);

/** Is this metric summed in memory and emitted once per invocation? */
export function isAggregated(name: string): boolean {
  return AGGREGATED.has(name);
}
