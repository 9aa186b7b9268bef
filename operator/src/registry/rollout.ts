/** Whether the kubelet-side state of a workload matches its latest spec (read from status). */
import type { V1DaemonSet, V1Deployment } from '@kubernetes/client-node';

export function deploymentRolledOut(d: V1Deployment | undefined): boolean {
  if (!d?.status || !d.metadata) return false;
  const want = d.spec?.replicas ?? 1;
  const s = d.status;
  return (
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
    (s.updatedReplicas ?? 0) === want &&
    (s.replicas ?? 0) === want &&
    (s.availableReplicas ?? 0) === want
  );
}

export function daemonSetRolledOut(ds: V1DaemonSet | undefined): boolean {
  if (!ds?.status || !ds.metadata) return false;
  const s = ds.status;
  return (
    (s.observedGeneration ?? 0) >= (ds.metadata.generation ?? 0) &&
    (s.updatedNumberScheduled ?? 0) === s.desiredNumberScheduled &&
    (s.numberAvailable ?? 0) === s.desiredNumberScheduled
  );
}
