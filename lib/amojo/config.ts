/**
 * The `chat` config section (lib/amojo/README.md): the chat channel amoCRM support registered for
 * us (its id and secret, docs/amojo-protocol.md#ids) and the accounts it is connected to. The
 * channel secret is a reference, resolved at run time like every secret. Which amojo host an
 * account talks to follows from its domain (docs/amojo-protocol.md#hosts); `amojoUrl` overrides it.
 */
import * as z from 'zod';
import { secretRefSchema } from '../config/secret-ref.ts';

export { amojoBaseUrl } from './hosts.ts';

const accountId = z.string().regex(/^[a-z][a-z0-9-]{0,40}$/, 'an account id as in accounts[].id');

/** https, or plain http towards this machine only (the sandbox). */
const amojoUrl = z
  .string()
  .url()
  .refine((u) => {
    const url = new URL(u);
    const h = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    return url.protocol === 'https:' || (url.protocol === 'http:' && (h === '127.0.0.1' || h === 'localhost' || h === '::1'));
  }, 'must be https:// (http:// is accepted only for 127.0.0.1 / localhost)');

/**
 * Your messenger (lib/amojo/README.md, "The channel"): its conversations come in on
 * `POST /chat/{id}/messages` and amoCRM's replies go out to its webhook, signed with its secret.
 */
const messengerSchema = z
  .object({
    /** The `{channel}` of the inbound route; not `amojo` (that path is amojo's callbacks). */
    id: z
      .string()
      .regex(/^[a-z][a-z0-9-]{1,40}$/, 'a messenger id is lower-case kebab-case')
      .refine((v) => v !== 'amojo', '"amojo" is the callback path'),
    /** The account its chats land in (one of chat.accounts). */
    account: accountId,
    /** Where managers' replies are POSTed (signed, lib/amojo/README.md "Relay signing"). */
    webhookUrl: amojoUrl,
    /** The secret the relay signs with (HMAC-SHA256), shared with the messenger. */
    webhookSecret: secretRefSchema,
    /** An amoCRM source (≤ 40 printable ASCII) new chats are created with. */
    sourceExternalId: z
      .string()
      .regex(/^[\x20-\x7e]{1,40}$/)
      .optional(),
    /** Per relay request (default 5 000 ms). */
    timeoutMs: z.number().int().min(500).max(30_000).default(5_000),
  })
  .strict();

export const chatSchema = z
  .object({
    channel: z
      .object({
        /** The channel's UUID from amoCRM support ([chat-start] registration). */
        id: z.string().regex(/^[0-9a-fA-F-]{8,64}$/, 'a channel id is the UUID amoCRM support issued'),
        /** The channel secret (signs every request and every callback). */
        secret: secretRefSchema,
        /** The title sent on connect (amojo's default is the channel's name). */
        title: z.string().min(1).max(100).optional(),
      })
      .strict(),
    /** amojo's base URL for every account (default: https://amojo.amocrm.ru or https://amojo.kommo.com by domain). */
    amojoUrl: amojoUrl.optional(),
    /** The accounts this channel is used in (`chat connect --account A` connects each once). */
    accounts: z
      .array(
        z
          .object({
            account: accountId,
            /** Overrides the channel's title for this account. */
            title: z.string().min(1).max(100).optional(),
          })
          .strict(),
      )
      .min(1),
    /** Per request to amojo (default 10 000 ms; amojo answers within seconds). */
    timeoutMs: z.number().int().min(500).max(30_000).default(10_000),
    /** Messengers whose conversations this channel carries (the inbound route and the relay). */
    messengers: z.array(messengerSchema).default([]),
    /**
     * The API key the inbound route takes in `x-api-key`, for the local runner; in AWS the key is
     * the usage plan's own (infra/aws/README.md), and this reference is not read.
     */
    inboundApiKey: secretRefSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const ids = new Set<string>();
    c.messengers.forEach((m, i) => {
      if (ids.has(m.id)) ctx.addIssue({ code: 'custom', path: ['messengers', i, 'id'], message: `messenger "${m.id}" is listed twice` });
      ids.add(m.id);
      if (!c.accounts.some((a) => a.account === m.account))
        ctx.addIssue({ code: 'custom', path: ['messengers', i, 'account'], message: `account "${m.account}" is not in chat.accounts` });
    });
    const seen = new Set<string>();
    c.accounts.forEach((a, i) => {
      if (seen.has(a.account))
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'account'], message: `account "${a.account}" is listed twice` });
      seen.add(a.account);
    });
  });

export type ChatConfigInput = z.input<typeof chatSchema>;
export type ChatConfig = z.output<typeof chatSchema>;
export type MessengerConfig = ChatConfig['messengers'][number];
