// What a workload's Role says about its pods: the names its pods/log rules grant.
import type { V1Role } from "@kubernetes/client-node";

/**
 * The pod names a Role grants `get pods/log` on, sorted. Rules without resourceNames are
 * skipped: they name no pod (an unrestricted rule would grant every pod, which is not a list
 * of the workload's pods).
 */
export function grantedPods(role: V1Role): string[] {
  const names = new Set<string>();
  for (const rule of role.rules ?? []) {
    const core = rule.apiGroups?.some((g) => g === "" || g === "*") ?? false;
    const logs = rule.resources?.some((r) => r === "pods/log" || r === "*" || r === "pods/*") ?? false;
    const get = rule.verbs.some((v) => v === "get" || v === "*");
    if (core && logs && get) for (const name of rule.resourceNames ?? []) names.add(name);
  }
  return [...names].sort();
}
