// Label selectors as requirements: a workload's spec.selector against the requirements a list or
// watch carries (KEP-4601), and requirements written back as a selector string for the apiserver.
import type { LabelSelector } from "../kube/objects.ts";

/** One requirement of a label selector, as SubjectAccessReview's resourceAttributes.labelSelector carries it. */
export interface Requirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[] | null;
}

/** A workload's selector as requirements; undefined when it has none or an operator we do not know. */
export function requirementsOf(selector: LabelSelector | undefined): Requirement[] | undefined {
  if (!selector) return undefined;
  const out: Requirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({ key, operator: "In", values: [value] }));
  for (const e of selector.matchExpressions ?? []) {
    if (e.operator !== "In" && e.operator !== "NotIn" && e.operator !== "Exists" && e.operator !== "DoesNotExist") return undefined;
    out.push({ key: e.key, operator: e.operator, values: e.values ?? [] });
  }
  return out.length > 0 ? out : undefined;
}

/** True when every label set that satisfies `r` satisfies `e` too (both on the same key). */
function implies(r: Requirement, e: Requirement): boolean {
  if (r.key !== e.key) return false;
  const rv = r.values ?? [];
  const ev = e.values ?? [];
  switch (e.operator) {
    case "In":
      return r.operator === "In" && rv.length > 0 && rv.every((x) => ev.includes(x));
    case "NotIn":
      return (
        (r.operator === "NotIn" && ev.every((x) => rv.includes(x))) ||
        (r.operator === "In" && rv.length > 0 && rv.every((x) => !ev.includes(x))) ||
        r.operator === "DoesNotExist"
      );
    case "Exists":
      return (r.operator === "In" && rv.length > 0) || r.operator === "Exists";
    case "DoesNotExist":
      return r.operator === "DoesNotExist";
  }
}

/**
 * True when a request's requirements select no pod that `selector` does not: each of the
 * selector's requirements is implied by one of the request's. A request that asks for more (or
 * less) never passes.
 */
export function narrowerThan(request: readonly Requirement[], selector: LabelSelector | undefined): boolean {
  const wanted = requirementsOf(selector);
  if (wanted === undefined) return false;
  return wanted.every((e) => request.some((r) => implies(r, e)));
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** The requirements as a `labelSelector` query string; undefined when a key or value could not be one. */
export function selectorString(requirements: readonly Requirement[]): string | undefined {
  const parts: string[] = [];
  for (const r of requirements) {
    const values = r.values ?? [];
    if (!LABEL_KEY.test(r.key) || !values.every((x) => LABEL_VALUE.test(x))) return undefined;
    if (r.operator === "In" || r.operator === "NotIn") {
      if (values.length === 0) return undefined;
      parts.push(`${r.key} ${r.operator === "In" ? "in" : "notin"} (${values.join(",")})`);
    } else {
      parts.push(r.operator === "Exists" ? r.key : `!${r.key}`);
    }
  }
  return parts.length > 0 ? parts.join(",") : undefined;
}
