/**
 * The /v2 route table: each route says what it matches, what access it needs and which
 * handler serves it. Repository names contain slashes, so routes are regular expressions over
 * the path (a name capture, then a fixed tail), checked in order; the name is validated
 * against the spec's grammar once, here, before access is asked for.
 */
import type { Context, Middleware } from 'koa';
import { RegistryError } from '../errors.ts';
import { parseRepositoryName } from '../oci/grammar.ts';
import { catalogAccess, deleteAccess, pullAccess, pushAccess, uploadStartAccess, type AccessRequest } from './access.ts';
import { authorize, type Handler, type V2Services } from './context.ts';
import { getBase } from './base.ts';
import { deleteBlob, getBlob } from './blobs.ts';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './uploads.ts';
import { deleteManifest, getManifest, putManifest } from './manifests.ts';
import { listTags } from './tags.ts';
import { listCatalog } from './catalog.ts';
import { listReferrers } from './referrers.ts';

export interface V2Route {
  pattern: RegExp;
  /** True when the first capture is a repository name. */
  named: boolean;
  methods: Partial<Record<string, { access: (name: string, ctx: Context) => AccessRequest[]; handle: Handler }>>;
}

const none = (): AccessRequest[] => [];

export const v2Routes: V2Route[] = [
  { pattern: /^\/v2\/?$/, named: false, methods: { GET: { access: none, handle: (ctx) => getBase(ctx) } } },
  {
    pattern: /^\/v2\/_catalog$/,
    named: false,
    methods: { GET: { access: () => catalogAccess, handle: (ctx, _p, s) => listCatalog(ctx, s) } },
  },
  {
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    named: true,
    methods: {
      GET: { access: pullAccess, handle: getManifest },
      HEAD: { access: pullAccess, handle: getManifest },
      PUT: { access: pushAccess, handle: putManifest },
      DELETE: { access: deleteAccess, handle: deleteManifest },
    },
  },
  { pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/, named: true, methods: { POST: { access: (name, ctx) => uploadStartAccess(name, ctx.query), handle: startUpload } } },
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    named: true,
    methods: {
      GET: { access: pushAccess, handle: uploadStatus },
      PATCH: { access: pushAccess, handle: patchUpload },
      PUT: { access: pushAccess, handle: finishUpload },
      DELETE: { access: pushAccess, handle: cancelUpload },
    },
  },
  {
    pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/,
    named: true,
    methods: {
      GET: { access: pullAccess, handle: getBlob },
      HEAD: { access: pullAccess, handle: getBlob },
      DELETE: { access: deleteAccess, handle: deleteBlob },
    },
  },
  { pattern: /^\/v2\/(.+)\/tags\/list$/, named: true, methods: { GET: { access: pullAccess, handle: listTags } } },
  { pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, named: true, methods: { GET: { access: pullAccess, handle: listReferrers } } },
];

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Dispatches /v2 requests through the route table; other paths go to `next`. */
export function v2Router(services: V2Services, routes: V2Route[] = v2Routes): Middleware {
  return async (ctx: Context, next) => {
    const path = ctx.path;
    if (!path.startsWith('/v2')) return next();
    if (path.length > 3 && path[3] !== '/') return next();
    let allowed: string[] | undefined;
    for (const route of routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      // HEAD is GET without a body (Koa drops it) wherever a route has no HEAD of its own.
      const method = route.methods[ctx.method] ?? (ctx.method === 'HEAD' ? route.methods.GET : undefined);
      if (!method) {
        allowed ??= Object.keys(route.methods);
        continue;
      }
      const name = route.named ? parseRepositoryName(match[1]!) : '';
      const last = route.named && match[2] !== undefined ? decode(match[2]) : '';
      await authorize(ctx, services, method.access(name, ctx));
      await method.handle(ctx, { name, last }, services);
      return;
    }
    if (allowed) {
      ctx.set('Allow', allowed.join(', '));
      throw new RegistryError('UNSUPPORTED', `method ${ctx.method} not allowed`);
    }
    throw new RegistryError('NAME_UNKNOWN', 'no such /v2 endpoint', { status: 404 });
  };
}
