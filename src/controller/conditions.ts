// status.conditions in the shape of metav1.Condition, merged the way apimachinery's
// meta.SetStatusCondition does: a condition's lastTransitionTime moves only when its status
// changes, so `kubectl get` shows since when a HookSet has been Ready (or not).
export type ConditionStatus = "True" | "False" | "Unknown";

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** A condition as the reconcile decides it; the time and generation are added by setConditions. */
export type ConditionUpdate = Omit<Condition, "lastTransitionTime" | "observedGeneration">;

/** The CRD caps a condition's message (hookset-crd.ts); a long list of problems is cut to fit. */
export const MAX_CONDITION_MESSAGE = 32768;

function fit(message: string): string {
  return message.length <= MAX_CONDITION_MESSAGE ? message : `${message.slice(0, MAX_CONDITION_MESSAGE - 1)}…`;
}

/**
 * `existing` with each update applied: a new type is appended, a known one replaced, keeping its
 * lastTransitionTime unless its status changed. Conditions of other types are kept as they are.
 */
export function setConditions(
  existing: readonly Condition[],
  updates: readonly ConditionUpdate[],
  generation: number,
  now: Date,
): Condition[] {
  const out = existing.map((c) => ({ ...c }));
  for (const update of updates) {
    const index = out.findIndex((c) => c.type === update.type);
    const previous = index >= 0 ? out[index] : undefined;
    const next: Condition = {
      type: update.type,
      status: update.status,
      observedGeneration: generation,
      lastTransitionTime:
        previous && previous.status === update.status
          ? previous.lastTransitionTime
          : now.toISOString().replace(/\.\d+Z$/, "Z"),
      reason: update.reason,
      message: fit(update.message),
    };
    if (index >= 0) out[index] = next;
    else out.push(next);
  }
  return out;
}

/** Conditions read from a stored object, leaving out entries that are not conditions. */
export function readConditions(status: unknown): Condition[] {
  const list = (status as { conditions?: unknown } | undefined)?.conditions;
  if (!Array.isArray(list)) return [];
  return list.filter((c): c is Condition => !!c && typeof c === "object" && typeof (c as Condition).type === "string");
}
