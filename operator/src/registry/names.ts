/** Names and labels of everything a Registry owns, derived in one place. */
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { Registry } from '../crds/registry.ts';

export const MANAGED_BY = 'berth-operator';
export const REGISTRY_LABEL = 'berth.dev/registry';
export const FINALIZER = 'berth.dev/cleanup';

export function childNames(name: string) {
  return {
    caSecret: `${name}-ca`,
    tlsSecret: `${name}-tls`,
    tokenSecret: `${name}-token`,
    adminSecret: `${name}-admin`,
    config: `${name}-config`,
    deployment: name,
    service: name,
    ingress: name,
    pdb: name,
    pvc: `${name}-data`,
    certificate: `${name}-tls`,
    nodeTrust: `${name}-node-trust`,
  };
}

export function registryLabels(reg: Registry, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'berth',
    'app.kubernetes.io/instance': reg.metadata.name!,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [REGISTRY_LABEL]: reg.metadata.name!,
  };
}

export function selectorLabels(reg: Registry, component: string): Record<string, string> {
  return { 'app.kubernetes.io/instance': reg.metadata.name!, 'app.kubernetes.io/component': component, [REGISTRY_LABEL]: reg.metadata.name! };
}

export function ownerReference(reg: Registry): V1OwnerReference {
  return {
    apiVersion: reg.apiVersion,
    kind: reg.kind,
    name: reg.metadata.name!,
    uid: reg.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** host, or host:port when the port is not 443: the directory name runtimes look up. */
export function registryHostPort(reg: Registry): string {
  return reg.spec.port === 443 ? reg.spec.host : `${reg.spec.host}:${reg.spec.port}`;
}

export function externalURL(reg: Registry): string {
  return `https://${registryHostPort(reg)}`;
}

/** Names the serving certificate covers: the external host, the Service names, extras. */
export function servingNames(reg: Registry): string[] {
  const ns = reg.metadata.namespace!;
  const svc = childNames(reg.metadata.name!).service;
  const names = [reg.spec.host, svc, `${svc}.${ns}`, `${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`, ...(reg.spec.tls.extraNames ?? [])];
  return [...new Set(names)];
}
