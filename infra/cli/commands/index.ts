/**
 * Every command of `amo-gateway`. A new family (`dlq list|show|replay|purge`, `schema pull`, `chat …`)
 * is a file next to these exporting Command[] and one spread below; help and dispatch follow.
 */
import type { Command } from '../command.ts';
import { authCommands } from './auth.ts';
import { breakerCommands } from './breaker.ts';
import { contactsCommands } from './contacts.ts';
import { chatCommands } from './chat.ts';
import { configCommands } from './config.ts';
import { dlqCommands } from './dlq.ts';
import { initCommands } from './init.ts';
import { onecCommands } from './onec.ts';
import { rulesCommands } from './rules.ts';
import { schemaCommands } from './schema.ts';
import { tokenCommands } from './token.ts';

export const GROUPS: Record<string, string> = {
  init: 'the first amo.config.json: a few questions (or flags), then the secrets to create and the deploy command',
  config: 'check a config file: every problem with its path and the fix',
  auth: 'connect an amoCRM account (consent link, pasted code, long-lived token)',
  token: 'inspect and refresh the stored OAuth tokens',
  dlq: 'parked messages: list, show, replay, purge',
  schema: "an account's dictionary (pipelines, fields, users…) as the JSON file flows read",
  breaker: 'the 403 breaker: show it, lift it once amoCRM support has unblocked the account',
  rules: 'the rules: check their names against the pulled dictionaries, explain what an event would do',
  contacts: 'the contact index people are found by: build it, see it, find a person',
  chat: 'the amojo chat channel: connect it to an account, disconnect it, show its state',
  onec: 'the 1C exchange: export a deal to 1C now',
};

export const COMMANDS: Command[] = [
  ...initCommands,
  ...configCommands,
  ...authCommands,
  ...tokenCommands,
  ...dlqCommands,
  ...schemaCommands,
  ...breakerCommands,
  ...rulesCommands,
  ...contactsCommands,
  ...chatCommands,
  ...onecCommands,
];
