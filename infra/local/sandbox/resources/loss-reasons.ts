/**
 * Lead loss reasons: `GET /api/v4/leads/loss_reasons[/{id}]` (Kommo reference "Get loss reasons" /
 * "loss reason by id": id, name, sort, created_at, updated_at; the model and `_links.self` as
 * amo-docs leads-api shows them in a lead's `_embedded.loss_reason`). The list's envelope
 * (`_total_items`, `_embedded.loss_reasons`) is *assumed*, like the other dictionaries.
 */
import { hal, noContent } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import type { AccountState, LossReason } from '../state.ts';
import { link, listPage } from './common.ts';

export function renderLossReason(ctx: RestCtx, r: LossReason): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    sort: r.sort,
    created_at: r.created_at,
    updated_at: r.updated_at,
    _links: link(ctx, `/api/v4/leads/loss_reasons/${r.id}`),
  };
}

/** Reasons a new account has (*assumed* names; amoCRM seeds a few in every account). */
export function seedLossReasons(state: AccountState, at = 1_600_000_000): void {
  ['Пропала потребность', 'Дорого', 'Выбрали конкурента'].forEach((name, i) => {
    const id = state.nextId('lossReason');
    state.lossReasons.set(id, { id, name, sort: (i + 1) * 100_000, created_at: at, updated_at: at });
  });
}

export function lossReasonRoutes(): RestRoute[] {
  return [
    {
      method: 'GET',
      template: '/api/v4/leads/loss_reasons',
      handler: (ctx) => {
        const list = [...ctx.state.lossReasons.values()].sort((a, b) => a.sort - b.sort || a.id - b.id);
        return listPage(
          ctx,
          'loss_reasons',
          list.map((r) => renderLossReason(ctx, r)),
          { total: true },
        );
      },
    },
    {
      method: 'GET',
      template: '/api/v4/leads/loss_reasons/{id}',
      handler: (ctx) => {
        const r = ctx.state.lossReasons.get(Number(ctx.params.id));
        return r ? hal(200, renderLossReason(ctx, r)) : noContent();
      },
    },
  ];
}
