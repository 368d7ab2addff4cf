/**
 * `GET /api/v4/leads/pipelines[/{id}[/statuses[/{status_id}]]]` (amoCRM leads_pipelines). Every
 * pipeline carries the closed stages 142 "Успешно реализовано" and 143 "Закрыто и не реализовано".
 */
import { hal, noContent } from '../http-util.ts';
import type { RestCtx, RestRoute } from '../router.ts';
import type { Pipeline, Status } from '../state.ts';
import { collection, link } from './common.ts';

export function renderStatus(ctx: RestCtx, p: Pipeline, s: Status): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    sort: s.sort,
    is_editable: s.is_editable,
    pipeline_id: p.id,
    color: s.color,
    type: s.type,
    account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/leads/pipelines/${p.id}/statuses/${s.id}`),
  };
}

export function renderPipeline(ctx: RestCtx, p: Pipeline): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    sort: p.sort,
    is_main: p.is_main,
    is_unsorted_on: p.is_unsorted_on,
    is_archive: p.is_archive,
    account_id: ctx.state.account.id,
    _links: link(ctx, `/api/v4/leads/pipelines/${p.id}`),
    _embedded: { statuses: [...p.statuses].sort((a, b) => a.sort - b.sort).map((s) => renderStatus(ctx, p, s)) },
  };
}

export function pipelineRoutes(): RestRoute[] {
  return [
    {
      method: 'GET',
      template: '/api/v4/leads/pipelines',
      handler: (ctx) =>
        collection(
          ctx,
          'pipelines',
          [...ctx.state.pipelines.values()].sort((a, b) => a.sort - b.sort).map((p) => renderPipeline(ctx, p)),
        ),
    },
    {
      method: 'GET',
      template: '/api/v4/leads/pipelines/{id}',
      handler: (ctx) => {
        const p = ctx.state.pipelines.get(Number(ctx.params.id));
        return p ? hal(200, renderPipeline(ctx, p)) : noContent();
      },
    },
    {
      method: 'GET',
      template: '/api/v4/leads/pipelines/{id}/statuses',
      handler: (ctx) => {
        const p = ctx.state.pipelines.get(Number(ctx.params.id));
        return p
          ? collection(
              ctx,
              'statuses',
              [...p.statuses].sort((a, b) => a.sort - b.sort).map((s) => renderStatus(ctx, p, s)),
            )
          : noContent();
      },
    },
    {
      method: 'GET',
      template: '/api/v4/leads/pipelines/{id}/statuses/{statusId}',
      handler: (ctx) => {
        const p = ctx.state.pipelines.get(Number(ctx.params.id));
        const s = p?.statuses.find((x) => x.id === Number(ctx.params.statusId));
        return p && s ? hal(200, renderStatus(ctx, p, s)) : noContent();
      },
    },
  ];
}
