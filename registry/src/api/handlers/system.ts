/** ping, health, systeminfo and the OpenAPI document: readable by anyone. */
import type { Handler } from '../context.ts';
import { openApiDocument } from '../operations.ts';

// Under the operator's readiness probe timeout (3 s).
const HEALTH_TIMEOUT_MS = 2000;

export const ping: Handler = async () => ({ status: 200, body: 'Pong', headers: { 'Content-Type': 'text/plain; charset=utf-8' } });

export const getHealth: Handler = async (_request, context) => {
  const components = await Promise.all(
    Object.entries(context.health).map(async ([name, check]) => {
      try {
        await withTimeout(check(), HEALTH_TIMEOUT_MS);
        return { name, status: 'healthy' as const };
      } catch (err) {
        // Backend errors may carry URLs; keep only the message's first line, without credentials.
        const message = err instanceof Error ? err.message.split('\n')[0]!.replace(/\/\/[^@/\s]*@/g, '//') : 'unreachable';
        return { name, status: 'unhealthy' as const, error: message.slice(0, 300) };
      }
    }),
  );
  const healthy = components.every((c) => c.status === 'healthy');
  // Harbor answers 200 either way; 503 when unhealthy lets this serve as a readiness probe.
  return { status: healthy ? 200 : 503, body: { status: healthy ? 'healthy' : 'unhealthy', components } };
};

export const getSystemInfo: Handler = async (_request, context) => {
  const external = context.system.externalURL;
  return {
    status: 200,
    body: {
      harbor_version: `berth-${context.system.version}`,
      auth_mode: 'db_auth',
      external_url: external,
      registry_url: external.replace(/^https?:\/\//, ''),
      project_creation_restriction: context.policy.projectCreation,
      self_registration: false,
      has_ca_root: false,
      read_only: false,
    },
  };
};

export const getOpenApi: Handler = async (_request, context) => ({ status: 200, body: openApiDocument(context.system.version) });

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
