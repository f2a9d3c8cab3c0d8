// Periods in which the apiserver refuses writes to managed Roles, as an admission policy in a real
// cluster would (Kyverno, Gatekeeper, a ValidatingAdmissionPolicy, a quota): a
// ValidatingAdmissionPolicy and its binding, scoped to the chaos namespaces, installed by one
// operation and removed at the start of a later burst. A policy takes a moment to be enforced and
// to stop being enforced; a probe Role in a namespace podlogreader does not watch tells when.
import type { KubeApi } from "../../src/kube/api.ts";
import { Roles, ValidatingAdmissionPolicies, ValidatingAdmissionPolicyBindings } from "../../src/kube/resources.ts";
import { eventually } from "../lib/poll.ts";
import { create, mergePatch, retrying, statusOf } from "./kube.ts";

/** "growth": an UPDATE may not add a pod name to a managed Role; "all": no write to a managed Role at all. */
export type Refusal = "growth" | "all";

const NAME = "chaos-refuse-role-writes";
const MANAGED_BY = { "app.kubernetes.io/managed-by": "podlogreader" };

// The pods/log rules with names of a Role, old or new; CEL over object/oldObject. A Role without
// rules carries `rules: null`, which has() does not rule out.
const names = (o: string) => `(has(${o}.rules) && ${o}.rules != null ? ${o}.rules.filter(r, has(r.resources) && r.resources.exists(x, x == "pods/log") && has(r.resourceNames)) : [])`;
const GROWS = `variables.newRules.exists(r, r.resourceNames.exists(n, !variables.oldRules.exists(o, n in o.resourceNames)))`;

export function policy(refusal: Refusal, namespaces: string[]) {
  const growth = refusal === "growth";
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: NAME, labels: { "chaos.podlogreader.dev/refusal": refusal } },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: namespaces }] },
        // Matched when the old or the new object carries the label.
        objectSelector: { matchLabels: MANAGED_BY },
        resourceRules: [{
          apiGroups: ["rbac.authorization.k8s.io"], apiVersions: ["v1"], resources: ["roles"],
          operations: growth ? ["UPDATE"] : ["CREATE", "UPDATE", "DELETE"],
        }],
      },
      ...(growth
        ? {
          variables: [{ name: "newRules", expression: names("object") }, { name: "oldRules", expression: names("oldObject") }],
          validations: [{ expression: `!(${GROWS})`, message: "chaos: this period refuses any pod name added to a managed Role", reason: "Forbidden" }],
        }
        : { validations: [{ expression: "false", message: "chaos: this period refuses every write to managed Roles", reason: "Forbidden" }] }),
    },
  };
}

function binding() {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: NAME },
    spec: { policyName: NAME, validationActions: ["Deny"] },
  };
}

/** Whether the apiserver refused a write because of the chaos policy. */
export function isRefusal(err: unknown): boolean {
  const status = statusOf(err);
  return (status === 403 || status === 422) && (err as Error).message.includes(NAME);
}

const PROBE = "chaos-refusal-probe";
let probes = 0;

/** Whether a write that adds a pod name to the probe Role (refused by either policy) is refused now. */
async function probeRefused(api: KubeApi, probeNamespace: string): Promise<boolean> {
  try {
    await mergePatch(api, Roles, probeNamespace, PROBE, { rules: [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: [`probe-${probes++}`] }] });
    return false;
  } catch (err) {
    if (isRefusal(err)) return true;
    throw err;
  }
}

/**
 * Installs the policy and its binding over `namespaces` and the probe's namespace, and waits until
 * the apiserver enforces it; false when a refusal is already in force.
 */
export async function startRefusal(api: KubeApi, refusal: Refusal, namespaces: string[], probeNamespace: string): Promise<boolean> {
  try {
    await create(api, Roles, probeNamespace, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: PROBE, labels: MANAGED_BY } });
  } catch (err) {
    if (statusOf(err) !== 409) throw err;
  }
  try {
    await create(api, ValidatingAdmissionPolicies, undefined, policy(refusal, [...namespaces, probeNamespace]));
  } catch (err) {
    if (statusOf(err) === 409) return false;
    throw err;
  }
  await create(api, ValidatingAdmissionPolicyBindings, undefined, binding());
  await eventually("the refusal policy to be enforced", async () => (await probeRefused(api, probeNamespace)) || undefined, 30_000, 200);
  return true;
}

/** Removes the binding and the policy and waits until writes pass again; the refusal that was in force, if any. */
export async function endRefusal(api: KubeApi, probeNamespace: string): Promise<Refusal | undefined> {
  let refusal: Refusal | undefined;
  try {
    const p = (await retrying(() => api.get(ValidatingAdmissionPolicies, undefined, NAME))) as { metadata?: { labels?: Record<string, string> } };
    refusal = p.metadata?.labels?.["chaos.podlogreader.dev/refusal"] as Refusal | undefined;
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  for (const rt of [ValidatingAdmissionPolicyBindings, ValidatingAdmissionPolicies]) {
    try {
      await retrying(() => api.delete(rt, undefined, NAME));
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }
  if (refusal) await eventually("the refusal policy to be lifted", async () => !(await probeRefused(api, probeNamespace)) || undefined, 30_000, 200);
  return refusal;
}
