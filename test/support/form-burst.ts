/**
 * A deterministic burst of site-form posts and the amoCRM state they must leave behind: the
 * end-to-end forms test and `bench/forms-burst.ts` use the same one.
 *
 * People: half of the posts come from contacts that already exist in the account, stored the way
 * managers type phones ("+7 (916) 123-45-67", "8 916 123 45 67", "79161234567") and e-mails in
 * mixed case; the posts write the phone the three ways people do ("8 (916) 123-45-67",
 * "+7 916 123 45 67", "9161234567"), some only an e-mail. Some people post twice (double click, a
 * second form) within the repeat window, spelled differently. Existing contacts have an open lead
 * (reused), a closed one, an old one (past the merge window), one in an excluded pipeline, or
 * none; every case but the first needs a new lead.
 */
import { seeded } from '../pipeline/seeded.ts';

/** What the burst expects of the form's merge rules (its config must say the same). */
export const BURST_MERGE = { maxAgeDays: 30, excludedPipeline: 'Партнёры' } as const;

export type ExistingLead = 'open' | 'closed' | 'old' | 'excluded' | 'none';

export interface BurstPerson {
  /** 10 national digits, e.g. "9161234567" (+7). */
  digits: string;
  e164: string;
  email: string;
  name: string;
  /** Present when the contact exists before the burst. */
  existing?: { storedPhone: string; storedEmail: string; lead: ExistingLead };
}

export interface BurstPost {
  person: number;
  fields: Record<string, string>;
}

export interface FormBurst {
  people: BurstPerson[];
  posts: BurstPost[];
  /** Contacts the burst must create (people without a contact who post). */
  newContacts: number;
  /** Leads the burst must create (one per person who posts, unless an open lead is reused). */
  newLeads: number;
  /** Posts with a comment: each becomes exactly one note. */
  notes: number;
}

const PREFIXES = ['916', '925', '903', '926', '985', '915'];

function spell(digits: string, how: number): string {
  const [a, b, c, d] = [digits.slice(0, 3), digits.slice(3, 6), digits.slice(6, 8), digits.slice(8, 10)];
  switch (how % 3) {
    case 0:
      return `8 (${a}) ${b}-${c}-${d}`;
    case 1:
      return `+7 ${a} ${b} ${c} ${d}`;
    default:
      return digits;
  }
}

function stored(digits: string, how: number): string {
  const [a, b, c, d] = [digits.slice(0, 3), digits.slice(3, 6), digits.slice(6, 8), digits.slice(8, 10)];
  switch (how % 3) {
    case 0:
      return `+7 (${a}) ${b}-${c}-${d}`;
    case 1:
      return `8 ${a} ${b} ${c} ${d}`;
    default:
      return `7${digits}`;
  }
}

function mixedCase(email: string): string {
  const [local, domain] = email.split('@') as [string, string];
  return `${local.charAt(0).toUpperCase()}${local.slice(1)}@${domain.toUpperCase()}`;
}

/**
 * `posts` posts (default 200): half from existing contacts, half from new people; `repeats` of
 * them (default 10 %) are a second post of someone who posted earlier.
 */
export function makeFormBurst(opts: { posts?: number; seed?: number } = {}): FormBurst {
  const total = opts.posts ?? 200;
  const random = seeded(opts.seed ?? 7);
  const repeats = Math.floor(total / 10);
  const firsts = total - repeats;
  const existingCount = Math.floor(firsts / 2);
  const people: BurstPerson[] = [];
  const leadKinds: ExistingLead[] = ['open', 'closed', 'old', 'excluded', 'none'];
  for (let i = 0; i < firsts; i++) {
    const digits = `${PREFIXES[i % PREFIXES.length]}${String(1_000_000 + i * 7919).slice(-7)}`;
    const email = `person${i}@example.ru`;
    const person: BurstPerson = { digits, e164: `+7${digits}`, email, name: `Человек ${i}` };
    if (i < existingCount) {
      person.existing = { storedPhone: stored(digits, i), storedEmail: mixedCase(email), lead: leadKinds[i % leadKinds.length]! };
    }
    people.push(person);
  }
  const fieldsOf = (p: BurstPerson, i: number, n: number): Record<string, string> => {
    // Every 10th existing person writes only the e-mail (the phone search cannot help then).
    const emailOnly = p.existing !== undefined && i % 10 === 9;
    const f: Record<string, string> = { name: p.name, comment: `Заявка ${n}: перезвоните, пожалуйста` };
    if (!emailOnly) f.phone = spell(p.digits, i + n);
    if (emailOnly || i % 2 === 0) f.email = emailOnly && n % 2 ? p.email.toUpperCase() : p.email;
    f.utm_source = n % 3 === 0 ? 'yandex' : 'google';
    return f;
  };
  const posts: BurstPost[] = [];
  // First posts, existing and new people interleaved.
  const order = people.map((_, i) => i).sort(() => random() - 0.5);
  order.forEach((i, n) => posts.push({ person: i, fields: fieldsOf(people[i]!, i, n) }));
  // Repeats: a second post of someone who already posted, a few positions later (same or next batch).
  for (let r = 0; r < repeats; r++) {
    const i = order[Math.floor(random() * order.length)]!;
    const firstAt = posts.findIndex((p) => p.person === i);
    const at = Math.min(posts.length, firstAt + 1 + Math.floor(random() * 30));
    posts.splice(at, 0, { person: i, fields: fieldsOf(people[i]!, i, total + r) });
  }
  const posted = new Set(posts.map((p) => p.person));
  const newContacts = [...posted].filter((i) => !people[i]!.existing).length;
  const newLeads = [...posted].filter((i) => people[i]!.existing?.lead !== 'open').length;
  return { people, posts, newContacts, newLeads, notes: posts.length };
}

/** An email-less, phone-less spelling check: the post's phone as E.164 (for the expectations). */
export function postedPhone(post: BurstPost, people: readonly BurstPerson[]): string | undefined {
  return post.fields.phone !== undefined ? people[post.person]!.e164 : undefined;
}

/**
 * The sandbox seed of the burst's existing people: their contacts, and the lead each case needs,
 * in `pipeline` (open / closed / old) or `excludedPipeline`.
 */
export function burstSeed(
  burst: FormBurst,
  ids: { pipeline: number; status: number; excludedPipeline: number; excludedStatus: number; now: number },
): { contacts: Array<Record<string, unknown>>; leads: (contactIds: Map<number, number>) => Array<Record<string, unknown>> } {
  const existing = burst.people.map((p, i) => ({ p, i })).filter((x) => x.p.existing);
  const contacts = existing.map(({ p }) => ({
    name: p.name,
    custom_fields_values: [
      { field_code: 'PHONE', values: [{ value: p.existing!.storedPhone, enum_code: 'WORK' }] },
      { field_code: 'EMAIL', values: [{ value: p.existing!.storedEmail, enum_code: 'WORK' }] },
    ],
  }));
  const leads = (contactIds: Map<number, number>) =>
    existing
      .filter(({ p }) => p.existing!.lead !== 'none')
      .map(({ p, i }) => {
        const kind = p.existing!.lead;
        const day = 86_400;
        return {
          name: `Старая сделка ${i}`,
          pipeline_id: kind === 'excluded' ? ids.excludedPipeline : ids.pipeline,
          status_id: kind === 'closed' ? 143 : kind === 'excluded' ? ids.excludedStatus : ids.status,
          created_at: Math.floor(ids.now / 1000) - (kind === 'old' ? (BURST_MERGE.maxAgeDays + 10) * day : day),
          _embedded: { contacts: [{ id: contactIds.get(i)! }] },
        };
      });
  return { contacts, leads };
}
