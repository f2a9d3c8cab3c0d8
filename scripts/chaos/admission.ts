// Periods in which the apiserver refuses writes to managed objects, as an admission policy or a
// webhook in a real cluster would (Kyverno, Gatekeeper, a ValidatingAdmissionPolicy, a webhook
// that is down or answers oddly): a ValidatingAdmissionPolicy and its binding, or a
// ValidatingWebhookConfiguration pointing at the chaos process's own webhook, scoped to the chaos
// namespaces and to objects labelled as podlogreader's, installed by one operation and removed at
// the start of a later burst. Either takes a moment to be enforced and to stop being enforced; a
// probe object in a namespace podlogreader does not watch tells when.
import type { KubeApi } from "../../src/kube/api.ts";
import {
  RoleBindings,
  Roles,
  ValidatingAdmissionPolicies,
  ValidatingAdmissionPolicyBindings,
  type ResourceType,
} from "../../src/kube/resources.ts";
import { eventually } from "../harness/poll.ts";
import { create, mergePatch, retrying, statusOf } from "./kube.ts";
import {
  HANG_TIMEOUT_SECONDS,
  isRefusalText,
  REFUSAL_MARK,
  refusedOperations,
  refusesAny,
  type ManagedResource,
  type Refusal,
  type Shape,
} from "./refusals.ts";
import type { RefusalWebhook } from "./webhook.ts";

const NAME = `${REFUSAL_MARK}-writes`;
const WEBHOOK_NAME = `${REFUSAL_MARK}.chaos.podlogreader.dev`;
const MANAGED_BY = { "app.kubernetes.io/managed-by": "podlogreader" };
const ValidatingWebhookConfigurations: ResourceType = {
  group: "admissionregistration.k8s.io",
  version: "v1",
  plural: "validatingwebhookconfigurations",
  kind: "ValidatingWebhookConfiguration",
};

const groupOf = (r: ManagedResource) => (r === "serviceaccounts" ? "" : "rbac.authorization.k8s.io");

// The pods/log rules with names of a Role, old or new; CEL over object/oldObject. A Role without
// rules carries `rules: null`, which has() does not rule out.
const names = (o: string) =>
  `(has(${o}.rules) && ${o}.rules != null ? ${o}.rules.filter(r, has(r.resources) && r.resources.exists(x, x == "pods/log") && ` +
  `has(r.resourceNames)) : [])`;
const GROWS = `variables.newRules.exists(r, r.resourceNames.exists(n, !variables.oldRules.exists(o, n in o.resourceNames)))`;

const namespaceSelector = (namespaces: string[]) => ({
  matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: namespaces }],
});

export function policy(shape: Shape, namespaces: string[]) {
  const growth = shape === "growth";
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: NAME, labels: { "chaos.podlogreader.dev/refusal": shape } },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        namespaceSelector: namespaceSelector(namespaces),
        // Matched when the old or the new object carries the label.
        objectSelector: { matchLabels: MANAGED_BY },
        resourceRules: refusedOperations(shape).map((r) => ({
          apiGroups: [groupOf(r.resource)],
          apiVersions: ["v1"],
          resources: [r.resource],
          operations: r.operations,
        })),
      },
      ...(growth
        ? {
            variables: [
              { name: "newRules", expression: names("object") },
              { name: "oldRules", expression: names("oldObject") },
            ],
            validations: [
              {
                expression: `!(${GROWS})`,
                message: "chaos: this period refuses any pod name added to a managed Role",
                reason: "Forbidden",
              },
            ],
          }
        : { validations: [{ expression: "false", message: `chaos: this period refuses ${shape}`, reason: "Forbidden" }] }),
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

export function webhookConfiguration(refusal: Refusal, namespaces: string[], url: string, caBundle: string) {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: NAME, labels: { "chaos.podlogreader.dev/refusal": refusal.shape } },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        clientConfig: { url, caBundle },
        rules: refusedOperations(refusal.shape).map((r) => ({
          apiGroups: [groupOf(r.resource)],
          apiVersions: ["v1"],
          resources: [r.resource],
          operations: r.operations,
          scope: "Namespaced",
        })),
        failurePolicy: "Fail",
        sideEffects: "None",
        admissionReviewVersions: ["v1"],
        timeoutSeconds: refusal.answer === "hang" ? HANG_TIMEOUT_SECONDS : 10,
        namespaceSelector: namespaceSelector(namespaces),
        objectSelector: { matchLabels: MANAGED_BY },
      },
    ],
  };
}

/** Whether the apiserver refused a write because of a chaos policy or webhook (whatever the status code). */
export function isRefusal(err: unknown): boolean {
  return statusOf(err) !== undefined && isRefusalText((err as Error).message);
}

const PROBE = "chaos-refusal-probe";
let probes = 0;

/** The write that tells whether a shape is enforced: one it refuses. */
export function probeFor(shape: Shape): "role-update" | "binding-update" | "binding-delete" {
  if (refusesAny(shape, "roles", "UPDATE")) return "role-update";
  if (refusesAny(shape, "rolebindings", "UPDATE")) return "binding-update";
  return "binding-delete";
}

async function ensureProbes(api: KubeApi, namespace: string): Promise<void> {
  const objects: [ResourceType, object][] = [
    [Roles, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: PROBE, labels: MANAGED_BY } }],
    [
      RoleBindings,
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: PROBE, labels: MANAGED_BY },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: PROBE },
      },
    ],
  ];
  for (const [rt, body] of objects) {
    try {
      await create(api, rt, namespace, body as never);
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }
}

/**
 * Whether the refusal's probe write (one the shape refuses) is refused now. A refusal with another
 * status code than the period's (a webhook the apiserver cannot reach, say) is an error, not a yes.
 */
async function probeRefused(api: KubeApi, refusal: Refusal, namespace: string): Promise<boolean> {
  try {
    switch (probeFor(refusal.shape)) {
      case "role-update":
        // Adds a pod name: refused by growth as by every refusal of Role updates.
        await mergePatch(api, Roles, namespace, PROBE, {
          rules: [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: [`probe-${probes++}`] }],
        });
        break;
      case "binding-update":
        await mergePatch(api, RoleBindings, namespace, PROBE, {
          metadata: { annotations: { "chaos.podlogreader.dev/probe": String(probes++) } },
        });
        break;
      case "binding-delete":
        await retrying(() => api.delete(RoleBindings, namespace, PROBE));
        await ensureProbes(api, namespace);
        break;
    }
    return false;
  } catch (err) {
    if (!isRefusal(err)) throw err;
    const expected = refusal.answer === "policy" ? [403, 422] : refusal.answer === "hang" ? [500, 503, 504] : [refusal.answer];
    if (expected.includes(statusOf(err)!)) return true;
    throw new Error(`the probe was refused with ${statusOf(err)}, not ${expected.join(" or ")}: ${(err as Error).message.slice(0, 300)}`);
  }
}

/**
 * Installs the policy and its binding, or the webhook configuration, over `namespaces` and the
 * probe's namespace, and waits until the apiserver enforces it; false when a refusal is already in force.
 */
export async function startRefusal(
  api: KubeApi,
  refusal: Refusal,
  namespaces: string[],
  probeNamespace: string,
  webhook: RefusalWebhook | undefined,
): Promise<boolean> {
  await ensureProbes(api, probeNamespace);
  const scope = [...namespaces, probeNamespace];
  try {
    if (refusal.answer === "policy") {
      await create(api, ValidatingAdmissionPolicies, undefined, policy(refusal.shape, scope));
      await create(api, ValidatingAdmissionPolicyBindings, undefined, binding());
    } else {
      if (!webhook) throw new Error("a webhook refusal needs the chaos webhook server");
      await create(
        api,
        ValidatingWebhookConfigurations,
        undefined,
        webhookConfiguration(refusal, scope, webhook.url(refusal.answer), webhook.caBundle),
      );
    }
  } catch (err) {
    if (statusOf(err) === 409) return false;
    throw err;
  }
  await eventually("the refusal to be enforced", async () => (await probeRefused(api, refusal, probeNamespace)) || undefined, 60_000, 200);
  return true;
}

/** Removes whatever refuses writes and waits until the refusal's probe passes again. */
export async function endRefusal(api: KubeApi, probeNamespace: string, refusal: Refusal | undefined): Promise<void> {
  for (const rt of [ValidatingAdmissionPolicyBindings, ValidatingAdmissionPolicies, ValidatingWebhookConfigurations]) {
    try {
      await retrying(() => api.delete(rt, undefined, NAME));
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }
  if (refusal)
    await eventually("the refusal to be lifted", async () => !(await probeRefused(api, refusal, probeNamespace)) || undefined, 60_000, 200);
}
