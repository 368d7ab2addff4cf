/**
 * `onec export --lead ID --account A`: export one deal to 1C now (lib/flows/onec/README.md), the
 * same export the trigger status runs: EditStudent / EditPartner / EditApplication, the 1C ids
 * written back, a note. Through THE client runtime (shared rate budget, 403 breaker) and the
 * export ledger in the table, so a repeated command with the same --key exports nothing twice.
 */
import { exportNow } from '../../../lib/flows/onec/flow.ts';
import { DynamoExportLedger } from '../../../lib/store/onec.ts';
import { PipelineError } from '../../../lib/pipeline/outcome.ts';
import { CliError, type Command } from '../command.ts';
import { str } from '../format.ts';
import { TARGET_OPTIONS } from '../target.ts';
import { accountOf, openAmo } from './schema.ts';

export const onecCommands: Command[] = [
  {
    path: ['onec', 'export'],
    summary: 'export one deal (contact, company, products) to 1C now and write the 1C ids back',
    details:
      'The export the trigger status runs (config onec.outbound). Exit 1 when it failed: the lead then has\n' +
      'a note and one task for the configured user. --key names the export (default cli:<lead>): the same\n' +
      'key again reuses the 1C ids already obtained and exports nothing twice; a new key exports again\n' +
      '(1C updates its application: the lead_id_1C already on the lead is sent).',
    options: {
      ...TARGET_OPTIONS,
      lead: { type: 'string', valueName: 'id', description: 'the amoCRM lead id' },
      account: { type: 'string', valueName: 'id', description: 'account id from the config (default: the only one)' },
      key: { type: 'string', valueName: 'key', description: 'the export key (default cli:<lead>)' },
    },
    async run({ io, values }) {
      const s = await openAmo(values, io, { mode: 'await' });
      try {
        const lead = Number(str(values.lead));
        if (!Number.isInteger(lead) || lead <= 0) throw new CliError('give --lead <id> (a positive integer)', 2);
        const account = accountOf(s, values.account);
        const outbound = s.config.onec?.outbound;
        const acc = outbound?.accounts.find((a) => a.account === account);
        if (!outbound || !acc) throw new CliError(`the config has no onec.outbound entry for account ${account}`, 1);
        const key = str(values.key) ?? `cli:${account}:${lead}`;
        try {
          const r = await exportNow(
            {
              outbound,
              secrets: s.secrets,
              clientFor: (a) => s.runtime.clientFor(a),
              ledger: new DynamoExportLedger({ doc: s.doc, tableName: s.tableName }),
              ...(io.fetch ? { fetch: io.fetch } : {}),
            },
            acc,
            lead,
            key,
          );
          io.out(`${account}: lead ${lead} ${r.exported ? 'exported to 1C' : 'already exported under this key'}`);
          io.out(`  lead_id_1C     ${r.lead_id_1C}`);
          io.out(`  client_id_1C   ${r.client_id_1C}`);
          io.out(`  company_id_1C  ${r.company_id_1C}`);
          return 0;
        } catch (e) {
          const why = e instanceof PipelineError ? e.message : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
          io.err(`${account}: lead ${lead} was not exported: ${why}`);
          return 1;
        }
      } finally {
        s.close();
      }
    },
  },
];
