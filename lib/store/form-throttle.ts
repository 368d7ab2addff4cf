/**
 * The DynamoDB adapter of the forms' per-IP throttle (the port: lib/flows/forms/ingress/throttle.ts).
 *
 * One item per form, client and window: pk `FORMTHR#<form>#<client hash>`, sk `<window>#<start>`
 * (`minute#1767225600`), attribute `n` counted with an atomic ADD, `expiresAt` one window after the
 * window's end. The windows of one post are counted in parallel (two small writes, no read). The
 * client is a hash of the IP (clientKey), never the address. The forms function may touch only
 * items under FORM_THROTTLE_PK_PREFIX (its IAM policy: lib/routes.ts `tableKeyPrefixes`).
 */
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { verdict, windowStart, type FormThrottle, type ThrottleVerdict, type ThrottleWindow } from '../flows/forms/ingress/throttle.ts';
import { ttlSeconds } from './table.ts';

export const FORM_THROTTLE_PK_PREFIX = 'FORMTHR#';

export function formThrottleKey(form: string, client: string, w: ThrottleWindow, nowMs: number): { pk: string; sk: string } {
  return { pk: `${FORM_THROTTLE_PK_PREFIX}${form}#${client}`, sk: `${w.name}#${windowStart(w, nowMs)}` };
}

export class DynamoFormThrottle implements FormThrottle {
  constructor(private readonly opts: { doc: DynamoDBDocumentClient; tableName: string }) {}

  async hit(form: string, client: string, windows: readonly ThrottleWindow[], nowMs: number): Promise<ThrottleVerdict> {
    const counts = await Promise.all(
      windows.map(async (w) => {
        const end = (windowStart(w, nowMs) + w.seconds) * 1000;
        const out = await this.opts.doc.send(
          new UpdateCommand({
            TableName: this.opts.tableName,
            Key: formThrottleKey(form, client, w, nowMs),
            UpdateExpression: 'ADD n :one SET expiresAt = if_not_exists(expiresAt, :exp)',
            ExpressionAttributeValues: { ':one': 1, ':exp': ttlSeconds(end + w.seconds * 1000) },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        const n = out.Attributes?.n;
        return typeof n === 'number' ? n : 1;
      }),
    );
    return verdict(windows, counts, nowMs);
  }
}
