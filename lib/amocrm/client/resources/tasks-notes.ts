/** Tasks (docs/amocrm-protocol.md#tasks) and notes (#notes) — both added with fingerprint re-checks. */
import type { Note, NoteType, Task } from '../../entities.ts';
import { assignByFingerprint, matchesSent, type AddOptions, type AddTarget, type Found } from '../add.ts';
import { addBatches, getOne, listAll, listIter, patchBatches, type ListParams, type MainEntity, type ResourceContext } from './common.ts';

export interface TaskCreate {
  text: string;
  /** Unix seconds. Required by amoCRM. */
  complete_till: number;
  responsible_user_id?: number;
  entity_id?: number;
  entity_type?: MainEntity | 'customers';
  /** 1 = call, 2 = meeting, else an account task type (see `account.taskTypes()`). */
  task_type_id?: number;
  duration?: number;
  request_id?: string;
}

export interface TaskPatch {
  id: number;
  text?: string;
  complete_till?: number;
  responsible_user_id?: number;
  task_type_id?: number;
  is_completed?: boolean;
  result?: { text: string };
  duration?: number;
}

export interface AddedTask {
  id: number;
  request_id: string;
}

const IGNORE = ['created_at', 'updated_at', 'created_by', 'updated_by'];

export class TasksApi {
  constructor(private readonly ctx: ResourceContext) {}

  list(params: ListParams = {}): AsyncGenerator<Task, void, undefined> {
    return listIter<Task>(this.ctx, '/api/v4/tasks', 'tasks', params);
  }

  get(id: number): Promise<Task | undefined> {
    return getOne<Task>(this.ctx, `/api/v4/tasks/${id}`);
  }

  async add(items: TaskCreate[], opts: AddOptions = {}): Promise<AddedTask[]> {
    const target: AddTarget<TaskCreate, AddedTask> = {
      path: '/api/v4/tasks',
      embeddedKey: 'tasks',
      mark: (item, marker) => ({ ...item, request_id: marker }),
      result: (raw) => ({ id: Number(raw.id), request_id: String(raw.request_id) }),
      recheck: async (pending, since): Promise<Array<Found<AddedTask>>> => {
        // Tasks have no created_at filter; updated_at ≥ created_at, so it bounds them too. When
        // every pending task is bound to an entity of one type, the list is narrowed to those
        // entities (one request for a batch of 50, not every task the account changed since).
        const types = new Set(pending.map((p) => (p.item.entity_id !== undefined ? p.item.entity_type : undefined)));
        const filter: Record<string, unknown> = { updated_at: { from: since } };
        const [type] = types;
        if (types.size === 1 && type !== undefined) {
          filter.entity_type = type;
          filter.entity_id = [...new Set(pending.map((p) => p.item.entity_id as number))];
        }
        const candidates = await listAll(this.list({ filter }));
        const found = assignByFingerprint(
          pending.map((p) => p.item as unknown as Record<string, unknown>),
          candidates,
          (sent, c) => matchesSent(sent, c as unknown as Record<string, unknown>, IGNORE),
        );
        return found.map((f, i) =>
          f.kind === 'found' ? { kind: 'found', result: { id: f.result.id, request_id: pending[i]!.marker } } : f,
        );
      },
    };
    return addBatches(this.ctx, target, items, opts);
  }

  update(patches: TaskPatch[]): Promise<Array<{ id: number; updated_at?: number }>> {
    return patchBatches(this.ctx, '/api/v4/tasks', 'tasks', patches);
  }

  /** Close a task with a result text. */
  async complete(id: number, resultText: string): Promise<void> {
    await this.ctx.core.request(this.ctx.account, {
      method: 'PATCH',
      path: `/api/v4/tasks/${id}`,
      body: { is_completed: true, result: { text: resultText } },
    });
  }
}

export interface NoteCreate {
  entity_id: number;
  note_type: NoteType;
  /** `{text}` for common notes; calls `{uniq, duration, source, link, phone}`, … */
  params: Record<string, unknown>;
  created_by?: number;
  request_id?: string;
}

export class NotesApi {
  constructor(
    private readonly ctx: ResourceContext,
    readonly kind: MainEntity,
  ) {}

  /** Notes of one entity, or of every entity of this kind. */
  list(entityId?: number, params: ListParams = {}): AsyncGenerator<Note, void, undefined> {
    const path = entityId === undefined ? `/api/v4/${this.kind}/notes` : `/api/v4/${this.kind}/${entityId}/notes`;
    return listIter<Note>(this.ctx, path, 'notes', params);
  }

  get(entityId: number, id: number): Promise<Note | undefined> {
    return getOne<Note>(this.ctx, `/api/v4/${this.kind}/${entityId}/notes/${id}`);
  }

  async add(items: NoteCreate[], opts: AddOptions = {}): Promise<AddedTask[]> {
    const target: AddTarget<NoteCreate, AddedTask> = {
      path: `/api/v4/${this.kind}/notes`,
      embeddedKey: 'notes',
      mark: (item, marker) => ({ ...item, request_id: marker }),
      result: (raw) => ({ id: Number(raw.id), request_id: String(raw.request_id) }),
      recheck: async (pending, since) => {
        const ids = [...new Set(pending.map((p) => p.item.entity_id))];
        const types = [...new Set(pending.map((p) => p.item.note_type))];
        const candidates = await listAll(
          this.list(undefined, { filter: { entity_id: ids, note_type: types, updated_at: { from: since } } }),
        );
        const found = assignByFingerprint(
          pending.map((p) => p.item as unknown as Record<string, unknown>),
          candidates,
          (sent, c) => matchesSent(sent, c as unknown as Record<string, unknown>, IGNORE),
        );
        return found.map((f, i) =>
          f.kind === 'found' ? { kind: 'found' as const, result: { id: f.result.id, request_id: pending[i]!.marker } } : f,
        );
      },
    };
    return addBatches(this.ctx, target, items, opts);
  }
}
