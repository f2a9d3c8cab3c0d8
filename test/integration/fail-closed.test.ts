// Fail closed: what the controller does when the apiserver refuses its writes, when someone else
// takes a managed Role over, and when two workloads could ask for one name. Every claim is asked of
// the apiserver's authorizer (SubjectAccessReview) for the ServiceAccount.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { V1Pod } from "@kubernetes/client-node";
import { managedName } from "../../src/access/names.ts";
import { ROLE_POD_NAMES_BUDGET_BYTES } from "../../src/access/desired.ts";
import {
  Events,
  Pods,
  ReplicaSets,
  RoleBindings,
  Roles,
  ValidatingAdmissionPolicies,
  ValidatingAdmissionPolicyBindings,
} from "../../src/kube/resources.ts";
import { ApiError } from "../../src/kube/transport.ts";
import { canReadAnyPod, canReadLog } from "../support/access.ts";
import { eventually, exists, testCluster, useNamespace, waitUntilGone, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { OPT_IN } from "../support/fixtures.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";

let c: TestCluster;
beforeAll(async () => {
  c = await testCluster();
});

const RBAC = "rbac.authorization.k8s.io";

/** A ValidatingAdmissionPolicy, bound to one namespace, that refuses Role writes (`operations`) failing `expression`. */
async function refuseRoleWrites(
  namespace: string,
  name: string,
  expression: string,
  operations = ["UPDATE"],
): Promise<() => Promise<void>> {
  const policy = `${name}-${namespace}`.slice(0, 253);
  // A Role to probe the policy with, made before the policy can refuse it.
  const probe = `probe-${name}`;
  await c.admin.create(Roles, namespace, {
    apiVersion: `${RBAC}/v1`,
    kind: "Role",
    metadata: { name: probe, namespace },
    rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"], resourceNames: ["a"] }],
  } as never);
  await c.admin.create(ValidatingAdmissionPolicies, undefined, {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: policy },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: { resourceRules: [{ apiGroups: [RBAC], apiVersions: ["v1"], operations, resources: ["roles"] }] },
      validations: [{ expression, message: `refused by ${name}` }],
    },
  } as never);
  await c.admin.create(ValidatingAdmissionPolicyBindings, undefined, {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: policy },
    spec: {
      policyName: policy,
      validationActions: ["Deny"],
      matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } },
    },
  } as never);
  // The policy takes effect once the apiserver has loaded it: wait until a probe update is refused.
  await eventually(`${name} to refuse updates`, async () => {
    try {
      await c.admin.mergePatch(Roles, namespace, probe, {
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"], resourceNames: ["a", `b${Date.now()}`] }],
      });
      return undefined;
    } catch (err) {
      return err instanceof ApiError && err.status !== 409 ? true : undefined;
    }
  });
  await c.admin.delete(Roles, namespace, probe);
  return async () => {
    await c.admin.delete(ValidatingAdmissionPolicyBindings, undefined, policy);
    await c.admin.delete(ValidatingAdmissionPolicies, undefined, policy);
  };
}

/** Refuses any update whose rules name something the old object's rules did not: growth. */
const NO_NEW_NAMES =
  "!has(object.rules) || object.rules.all(r, !has(r.resourceNames) || r.resourceNames.all(n, " +
  "has(oldObject.rules) && oldObject.rules.exists(o, has(o.resourceNames) && n in o.resourceNames)))";

async function deletePod(namespace: string, name: string): Promise<void> {
  await c.admin.delete(Pods, namespace, name);
}

async function warningReasons(namespace: string, involvedName: string): Promise<string[]> {
  const { items } = await c.admin.list(Events, { namespace });
  return (items as { type?: string; reason?: string; involvedObject?: { name?: string } }[])
    .filter((e) => e.type === "Warning" && e.involvedObject?.name === involvedName)
    .map((e) => e.reason ?? "");
}

describe("a Role update the apiserver refuses", () => {
  let ns: string;
  let controller: RunningController;
  const sa = managedName("Deployment", "web");

  beforeAll(async () => {
    ns = await useNamespace("refused");
    controller = await startController([ns]);
    await createDeployment(ns, "web", { replicas: 2 });
  });
  afterAll(() => controller.stop());

  test("when writes that add names are refused, the name of a pod that left is still removed", async () => {
    const [gone, stays] = await waitForPods(ns, "web", 2);
    await expectReadable(ns, sa, [gone!, stays!]);
    const allow = await refuseRoleWrites(ns, "no-growth", NO_NEW_NAMES);
    try {
      // The ReplicaSet replaces the pod: the Role should lose one name and gain another in one
      // write, which the policy refuses because of the name it gains.
      await deletePod(ns, gone!);
      await eventually(`${gone} to stop being readable`, async () => (!(await canReadLog(c.admin, ns, sa, gone!)) ? true : undefined));
      expect(await canReadLog(c.admin, ns, sa, stays!)).toBe(true);
      expect(await canReadAnyPod(c.admin, ns, sa)).toBe(false);
      expect(
        await eventually("a RoleWriteRefused Event", async () =>
          (await warningReasons(ns, "web")).includes("RoleWriteRefused") ? true : undefined,
        ),
      ).toBe(true);
    } finally {
      await allow();
    }
    // Once writes go through again, the replacement is granted too.
    await expectReadable(ns, sa, await waitForPods(ns, "web", 2));
  });

  test("when every write of Roles is refused, the binding and the Role are deleted rather than left naming a pod that left", async () => {
    const [gone, stays] = await waitForPods(ns, "web", 2);
    await expectReadable(ns, sa, [gone!, stays!]);
    const allow = await refuseRoleWrites(ns, "no-write", "false", ["UPDATE", "CREATE"]);
    try {
      await deletePod(ns, gone!);
      await eventually(`${gone} to stop being readable`, async () => (!(await canReadLog(c.admin, ns, sa, gone!)) ? true : undefined));
      // Under-granted, never over-granted: nothing is readable while the Role cannot be written.
      expect(await canReadLog(c.admin, ns, sa, stays!)).toBe(false);
      await waitUntilGone(RoleBindings, ns, sa);
      await waitUntilGone(Roles, ns, sa);
    } finally {
      await allow();
    }
    await expectReadable(ns, sa, await waitForPods(ns, "web", 2));
  });
});

describe("a managed Role that someone else takes over", () => {
  let ns: string;
  let controller: RunningController;
  const sa = managedName("Deployment", "web");

  beforeAll(async () => {
    ns = await useNamespace("takeover");
    controller = await startController([ns]);
    await createDeployment(ns, "web", { replicas: 1 });
    await createDeployment(ns, "other", { replicas: 1, optIn: false });
  });
  afterAll(() => controller.stop());

  test("is no longer bound to the ServiceAccount, and is left as its new owner made it", async () => {
    const [own] = await waitForPods(ns, "web", 1);
    const [other] = await waitForPods(ns, "other", 1);
    await expectReadable(ns, sa, [own!]);
    // Its new owner drops podlogreader's label and widens it to every pod in the namespace.
    const widened = [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"] }];
    await c.admin.mergePatch(
      Roles,
      ns,
      sa,
      { metadata: { labels: { "app.kubernetes.io/managed-by": null } }, rules: widened },
      { fieldManager: "someone-else" },
    );
    await waitUntilGone(RoleBindings, ns, sa);
    // The authorizer's cache follows the deletion a moment later; its own pod's name tells when.
    await eventually(
      "the authorizer to drop the binding",
      async () => (!(await canReadLog(c.admin, ns, sa, own!)) ? true : undefined),
      10_000,
    );
    expect(await canReadLog(c.admin, ns, sa, other!)).toBe(false);
    expect(await canReadAnyPod(c.admin, ns, sa)).toBe(false);
    expect(await warningReasons(ns, "web")).toContain("NameConflict");
    // Still there, and still the way its owner wrote it.
    await Bun.sleep(1500);
    const role = (await c.admin.get(Roles, ns, sa)) as { rules: unknown[]; metadata: { labels?: Record<string, string> } };
    expect(role.rules).toEqual(widened);
    expect(role.metadata.labels?.["app.kubernetes.io/managed-by"]).toBeUndefined();
    expect(await exists(RoleBindings, ns, sa)).toBe(false);
  });

  test("a Role deleted and created again by someone else while the controller was down is not bound either", async () => {
    const ns2 = await useNamespace("recreated");
    let controller2 = await startController([ns2]);
    try {
      await createDeployment(ns2, "web", { replicas: 1 });
      await createDeployment(ns2, "other", { replicas: 1, optIn: false });
      const [own] = await waitForPods(ns2, "web", 1);
      const [other] = await waitForPods(ns2, "other", 1);
      await expectReadable(ns2, sa, [own!]);
      await controller2.stop();
      await c.admin.delete(Roles, ns2, sa);
      await waitUntilGone(Roles, ns2, sa);
      await c.admin.create(
        Roles,
        ns2,
        {
          apiVersion: `${RBAC}/v1`,
          kind: "Role",
          metadata: { name: sa, namespace: ns2 },
          rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"] }],
        } as never,
        "someone-else",
      );
      controller2 = await startController([ns2]);
      await waitUntilGone(RoleBindings, ns2, sa);
      await eventually(
        "the authorizer to drop the binding",
        async () => (!(await canReadLog(c.admin, ns2, sa, own!)) ? true : undefined),
        10_000,
      );
      expect(await canReadLog(c.admin, ns2, sa, other!)).toBe(false);
      expect(await canReadAnyPod(c.admin, ns2, sa)).toBe(false);
    } finally {
      await controller2.stop();
    }
  });
});

describe("shortened names", () => {
  let ns: string;
  let controller: RunningController;

  beforeAll(async () => {
    ns = await useNamespace("longnames");
    controller = await startController([ns]);
  });
  afterAll(() => controller.stop());

  /** A standalone, opted-in ReplicaSet; its pods are made by kube-controller-manager. */
  async function createReplicaSet(name: string): Promise<void> {
    const labels = { app: createHash("sha256").update(name).digest("hex").slice(0, 20) };
    await c.admin.create(ReplicaSets, ns, {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: { name, namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels: { ...labels, ...OPT_IN } },
          spec: { containers: [{ name: "app", image: "registry.example/app:1" }] },
        },
      },
    } as never);
  }

  async function podsOf(rsName: string): Promise<string[]> {
    return eventually(`a pod of ReplicaSet ${rsName.slice(0, 20)}...`, async () => {
      const { items } = await c.admin.list(Pods, { namespace: ns });
      const pods = (items as V1Pod[])
        .filter((p) => p.metadata?.ownerReferences?.some((o) => o.controller && o.name === rsName))
        .map((p) => p.metadata!.name!);
      return pods.length === 1 ? pods : undefined;
    });
  }

  test("a workload named like another's shortened name gets a name of its own, and each reads only its pods", async () => {
    // The long ReplicaSet's name does not fit; once, its shortened name was
    // podlogreader-rs-<cut>-<hash>, which is exactly the plain name of a ReplicaSet called <cut>-<hash>.
    const long = "a".repeat(245);
    const hash = createHash("sha256").update(`ReplicaSet/${long}`).digest("hex").slice(0, 10);
    const impostor = `${long.slice(0, 226)}-${hash}`;
    await createReplicaSet(long);
    await createReplicaSet(impostor);
    const [longPod] = await podsOf(long);
    const [impostorPod] = await podsOf(impostor);
    const longSa = managedName("ReplicaSet", long);
    const impostorSa = managedName("ReplicaSet", impostor);
    expect(longSa).not.toBe(impostorSa);
    for (const [sa, own, other] of [
      [longSa, longPod!, impostorPod!],
      [impostorSa, impostorPod!, longPod!],
    ] as const) {
      await eventually(`${sa.slice(0, 40)}... to read its pod`, async () => ((await canReadLog(c.admin, ns, sa, own)) ? true : undefined));
      expect(await canReadLog(c.admin, ns, sa, other)).toBe(false);
    }
  });
});

describe("the size of a Role", () => {
  test("a Role naming pods up to the budget is accepted by the apiserver, with the longest pod names", async () => {
    const ns = await useNamespace("rolesize");
    const names: string[] = [];
    for (let bytes = 0, i = 0; ; i++) {
      const name = `${String(i).padStart(6, "0")}-${"p".repeat(246)}`;
      if (bytes + name.length + 3 > ROLE_POD_NAMES_BUDGET_BYTES) break;
      bytes += name.length + 3;
      names.push(name);
    }
    const role = {
      apiVersion: `${RBAC}/v1`,
      kind: "Role",
      metadata: { name: "at-budget", namespace: ns },
      rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"], resourceNames: names }],
    };
    const created = (await c.admin.create(Roles, ns, role as never)) as { rules: { resourceNames: string[] }[] };
    expect(created.rules[0]!.resourceNames.length).toBe(names.length);
    // Written again by server-side apply, as the controller updates it.
    await c.admin.apply(Roles, ns, { ...role, rules: [{ ...role.rules[0]!, resourceNames: names.slice(1) }] } as never);
    expect(names.length).toBeGreaterThan(3900);
  });
});
