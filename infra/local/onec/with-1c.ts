/**
 * `npm start -- --with-1c`: the test 1C server on a free port, its `onec` section and secrets for
 * the generated sandbox config, and — once the sandbox is up — the fields and list it needs, with
 * the lines the banner prints (where 1C is, how to call the 1C API, where the key is).
 */
import { randomBytes } from 'node:crypto';
import type { SandboxAdmin } from '../sandbox/index.ts';
import { startTestOnec } from './server.ts';
import { LOCAL_ONEC, LOCAL_ONEC_KEY, LOCAL_ONEC_SECRET_NAMES, localOnecSection, seedLocalOnec } from './world.ts';

export async function startWith1c() {
  const password = randomBytes(12).toString('hex');
  const server = await startTestOnec({ password });
  // A fixed, published key (like the demo integration's secret): this is the offline sandbox world.
  const key = LOCAL_ONEC_KEY;
  return {
    /** Merged into the runner's amoCRM options. */
    amocrm: {
      onec: localOnecSection(server.baseUrl),
      extraSecrets: { [LOCAL_ONEC_SECRET_NAMES.key]: key, [LOCAL_ONEC_SECRET_NAMES.password]: password },
    },
    ready(admin: SandboxAdmin, runnerUrl: string): string {
      seedLocalOnec(admin);
      return [
        `test 1C        ${server.baseUrl} (EditStudent, EditPartner, EditApplication; Basic auth)`,
        `1C API         POST ${runnerUrl}/1c/course | /1c/course-delete | /1c/course-doubles | /1c/corp-lead, GET ${runnerUrl}/1c/requests/<id>`,
        `               X-Api-Key: ${LOCAL_ONEC_KEY} (the sandbox's published key; e.g. curl -H 'X-Api-Key: ${LOCAL_ONEC_KEY}' ${runnerUrl}/1c/managers)`,
        `deal export    move a lead to status ${LOCAL_ONEC.trigger.statusId} (with a "Курсы" product linked) → 1C; ids into field ${LOCAL_ONEC.lead1c}`,
      ].join('\n');
    },
    close: () => server.close(),
  };
}
