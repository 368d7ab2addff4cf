/**
 * Mode `unsorted` (README.md "mode `unsorted`"): each submission becomes an Unsorted "form" entry,
 * ≤ 50 per `POST /api/v4/leads/unsorted/forms`; a redelivered one first looks for its entry (one
 * list of the newest 250 form entries of its pipeline) and adds only when it is not there.
 */
import type { AmoClientForAccount } from '../../amocrm/client/client.ts';
import type { FormMetadata, UnsortedCreate } from '../../amocrm/client/resources/unsorted.ts';
import type { Log } from '../../common/log.ts';
import { modelsOf } from './models.ts';
import type { ResolvedForm } from './resolve.ts';
import type { Submission } from './submission.ts';
import type { FlushStats, PendingUnit } from './writer.ts';

const CHUNK = 50;
const READ_CHUNK = 250;

function unsortedEntry(sub: Submission, rf: ResolvedForm, timeZone: string): { entry: UnsortedCreate<FormMetadata>; dropped: string[] } {
  const f = rf.form;
  const formName = f.name ?? f.id;
  const { lead, contact, dropped } = modelsOf(sub, rf, timeZone);
  // amoCRM wants a page (`form_page` is required): the posting page, else the form's site, else its id.
  const page = sub.meta.page ?? sub.meta.referer ?? f.origins.find((o) => o !== '*') ?? `form ${f.id}`;
  return {
    entry: {
      // *assumed*: the source uid is the submission's own (unique), unless the config names one:
      // amoCRM refuses a second entry with the same source, form and time, which makes a
      // redelivered add fail instead of duplicating.
      source_uid: f.unsorted?.sourceUid ?? sub.id,
      source_name: f.unsorted?.sourceName ?? formName,
      ...(rf.unsortedPipelineId !== undefined ? { pipeline_id: rf.unsortedPipelineId } : {}),
      created_at: Math.floor(sub.receivedAt / 1000),
      metadata: {
        form_id: f.id,
        form_name: formName,
        form_page: page,
        form_sent_at: Math.floor(sub.receivedAt / 1000),
        ...(sub.meta.ip ? { ip: sub.meta.ip } : {}),
        ...(sub.meta.referer ? { referer: sub.meta.referer } : {}),
      },
      // The models are the REST add ones, typed loosely by the Unsorted client.
      _embedded: { leads: [lead], contacts: [{ ...contact } as Record<string, unknown>] },
    },
    dropped,
  };
}

export async function writeUnsorted(
  api: AmoClientForAccount,
  items: Array<{ p: PendingUnit; rf: ResolvedForm }>,
  stats: FlushStats,
  timeZone: string,
  log?: Log,
): Promise<void> {
  let todo = items.map((x) => ({ ...x, ...unsortedEntry(x.p.unit.sub, x.rf, timeZone) }));
  // A redelivery whose entry may have landed (lost answer): look for it first (one list per pipeline).
  const again = todo.filter((x) => x.p.unit.redelivery);
  if (again.length) {
    const pipelines = [...new Set(again.map((x) => x.entry.pipeline_id))];
    const seen: Array<{ uid: string; source_uid: string | null; metadata: Record<string, unknown> }> = [];
    for (const pid of pipelines) {
      for await (const e of api.unsorted.list({
        filter: { category: ['forms'], ...(pid !== undefined ? { pipeline_id: pid } : {}) },
        order: { created_at: 'desc' },
        limit: READ_CHUNK,
        maxPages: 1,
      }))
        seen.push(e);
    }
    todo = todo.filter((x) => {
      const m = x.entry.metadata;
      const hit = seen.find(
        (e) =>
          e.source_uid === x.entry.source_uid &&
          String(e.metadata.form_id) === String(m.form_id) &&
          Number(e.metadata.form_sent_at) === m.form_sent_at,
      );
      if (hit) x.p.resolve({ outcome: 'unsorted', uid: hit.uid });
      return !hit;
    });
  }
  for (let i = 0; i < todo.length; i += CHUNK) {
    const chunk = todo.slice(i, i + CHUNK);
    try {
      stats.writes++;
      const made = await api.unsorted.addForms(chunk.map((x, j) => ({ ...x.entry, request_id: String(j) })));
      chunk.forEach((x, j) => {
        const m = made.find((u) => u.request_id === String(j)) ?? made[j];
        if (x.dropped.length) log?.warn('form values not written', { form: x.rf.form.id, fields: x.dropped.length });
        x.p.resolve({
          outcome: 'unsorted',
          ...(m ? { uid: m.uid } : {}),
          ...(m?._embedded.leads[0] ? { leadId: m._embedded.leads[0].id } : {}),
          ...(m?._embedded.contacts[0] ? { contactId: m._embedded.contacts[0].id } : {}),
        });
      });
    } catch (e) {
      for (const x of chunk) x.p.reject(e);
    }
  }
}
