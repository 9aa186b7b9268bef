/** The audit log: everything for administrators, one project's entries for its members. */
import type { AuditFilter } from '../../metadata/access-store.ts';
import type { ApiRequest, Handler } from '../context.ts';
import { ApiError } from '../errors.ts';
import { pagedResult, pageOf, parseQ, termText } from '../paging.ts';
import { requireProject, requireSystem } from '../policy.ts';
import { presentAudit } from '../present.ts';
import { param } from './params.ts';

const KEYS = ['username', 'operation', 'resource_type', 'resource', 'op_time', 'outcome'] as const;

function auditFilter(request: ApiRequest): AuditFilter {
  const q = parseQ(request.query, KEYS);
  const filter: AuditFilter = {};
  const username = termText(q.get('username'));
  if (username) filter.principal = username;
  const operation = termText(q.get('operation'));
  if (operation) filter.operation = operation;
  const resourceType = termText(q.get('resource_type'));
  if (resourceType) filter.resourceType = resourceType;
  const resource = q.get('resource');
  if (resource?.kind === 'exact') filter.resource = resource.value;
  if (resource?.kind === 'fuzzy') filter.resourcePrefix = resource.value;
  const outcome = termText(q.get('outcome'));
  if (outcome !== undefined) {
    if (outcome !== 'success' && outcome !== 'failure') throw new ApiError('BAD_REQUEST', 'q outcome: success or failure');
    filter.outcome = outcome;
  }
  const time = q.get('op_time');
  if (time !== undefined) {
    if (time.kind !== 'range') throw new ApiError('BAD_REQUEST', 'q op_time: a range [from~to]');
    if (time.from) filter.from = parseTime(time.from);
    if (time.to) filter.to = parseTime(time.to);
  }
  return filter;
}

function parseTime(text: string): Date {
  const date = new Date(/^\d{4}-\d{2}-\d{2} \d/.test(text) ? text.replace(' ', 'T') + 'Z' : text);
  if (Number.isNaN(date.getTime())) throw new ApiError('BAD_REQUEST', `q op_time: ${text.slice(0, 40)} is not a time`);
  return date;
}

export const listAuditLogs: Handler = async (request, context) => {
  requireSystem(request, context, 'audit-log', 'list');
  const page = pageOf(request.query);
  const { items, total } = await context.access.queryAudit(auditFilter(request), page);
  return pagedResult(request, items.map(presentAudit), total, page);
};

export const listProjectLogs: Handler = async (request, context) => {
  const { project } = await requireProject(request, context, param(request, 'project_name'), 'log', 'list', 'name');
  const page = pageOf(request.query);
  const { items, total } = await context.access.queryAudit({ ...auditFilter(request), project: project.name }, page);
  return pagedResult(request, items.map(presentAudit), total, page);
};
