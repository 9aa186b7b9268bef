/**
 * metav1.Condition bookkeeping. lastTransitionTime changes only when a condition's status
 * changes, so a resync that finds nothing new writes a byte-identical status (no update).
 */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

/** Returns the conditions with each input set, keeping transition times that did not change. */
export function setConditions(
  existing: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  generation: number | undefined,
  now: Date = new Date(),
): Condition[] {
  const out = [...(existing ?? [])];
  for (const input of inputs) {
    const index = out.findIndex((c) => c.type === input.type);
    const previous = index >= 0 ? out[index] : undefined;
    const next: Condition = {
      type: input.type,
      status: input.status,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime:
        previous && previous.status === input.status ? previous.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z'),
      reason: input.reason,
      message: input.message,
    };
    if (index >= 0) out[index] = next;
    else out.push(next);
  }
  return out;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
