// The controller against the real control plane. Every access claim is checked through the
// apiserver's authorizer (SubjectAccessReview) for the generated ServiceAccount.
import type { V1OwnerReference, V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Deployments, Events, Pods, RoleBindings, Roles, ServiceAccounts } from "../../src/kube/resources.ts";
import { managedName } from "../../src/access/names.ts";
import { canReadLog, serviceAccountCan } from "../support/access.ts";
import { eventually, exists, TEST_FIELD_MANAGER, testCluster, useNamespace, waitUntilGone, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { OPT_IN } from "../support/fixtures.ts";
import { createDeployment, expectReadable, patchDeployment, rollout, scale, waitForPods } from "../support/workloads.ts";

let c: TestCluster;
beforeAll(async () => {
  c = await testCluster();
});

async function getRole(namespace: string, name: string) {
  return (await c.admin.get(Roles, namespace, name)) as {
    metadata: { resourceVersion: string };
    rules?: { resources?: string[]; resourceNames?: string[] }[];
  };
}

describe("a Deployment's ServiceAccount follows its pods", () => {
  let ns: string;
  let controller: RunningController;
  const sa = "podlogreader-web";

  beforeAll(async () => {
    ns = await useNamespace("follow");
    controller = await startController([ns]);
    await createDeployment(ns, "web", { replicas: 2 });
    await createDeployment(ns, "other", { replicas: 1, optIn: false });
  });
  afterAll(() => controller.stop());

  test("reads its 2 pods and not the pod of another Deployment", async () => {
    const pods = await waitForPods(ns, "web", 2);
    const [otherPod] = await waitForPods(ns, "other", 1);
    await expectReadable(ns, sa, pods);
    expect(await canReadLog(c.admin, ns, sa, otherPod!)).toBe(false);
  });

  test("has what kubectl logs needs: get pods and the Deployment, list pods", async () => {
    const [pod] = await waitForPods(ns, "web", 2);
    expect(await serviceAccountCan(c.admin, ns, sa, { verb: "get", resource: "pods", name: pod })).toBe(true);
    expect(await serviceAccountCan(c.admin, ns, sa, { verb: "get", resource: "deployments", group: "apps", name: "web" })).toBe(true);
    expect(await serviceAccountCan(c.admin, ns, sa, { verb: "get", resource: "deployments", group: "apps", name: "other" })).toBe(false);
    expect(await serviceAccountCan(c.admin, ns, sa, { verb: "list", resource: "pods" })).toBe(true);
    expect(await serviceAccountCan(c.admin, ns, sa, { verb: "list", resource: "secrets" })).toBe(false);
  });

  test("scale up: the new pods become readable", async () => {
    await scale(ns, "web", 5);
    await expectReadable(ns, sa, await waitForPods(ns, "web", 5));
  });

  test("scale down: the removed pods are no longer readable", async () => {
    const before = await waitForPods(ns, "web", 5);
    await scale(ns, "web", 1);
    const after = await waitForPods(ns, "web", 1);
    await expectReadable(
      ns,
      sa,
      after,
      before.filter((p) => !after.includes(p)),
    );
  });

  test("scale to zero: no pod at all is readable, and no rule names pods", async () => {
    await scale(ns, "web", 0);
    await waitForPods(ns, "web", 0);
    await expectReadable(ns, sa, []);
    const role = await getRole(ns, sa);
    for (const rule of role.rules ?? []) {
      if (rule.resourceNames !== undefined) expect(rule.resourceNames.length).toBeGreaterThan(0);
      expect(rule.resources).not.toContain("pods/log");
    }
  });

  test("scale back from zero: access returns", async () => {
    await scale(ns, "web", 2);
    await expectReadable(ns, sa, await waitForPods(ns, "web", 2));
  });

  test("Events are for people: one when access was granted, none for the routine Role updates of each scale", async () => {
    const { items } = await c.admin.list(Events, { namespace: ns });
    const onWeb = (
      items as {
        type?: string;
        reason?: string;
        count?: number;
        message?: string;
        reportingComponent?: string;
        involvedObject?: { kind?: string; name?: string };
      }[]
    ).filter((e) => e.reportingComponent === "podlogreader" && e.involvedObject?.kind === "Deployment" && e.involvedObject.name === "web");
    expect(onWeb.map((e) => [e.type, e.reason, e.count])).toEqual([["Normal", "AccessGranted", 1]]);
    expect(onWeb[0]!.message).toContain(`Created Role ${sa}`);
  });

  test("rollout: the new ReplicaSet's pods are readable and the old ones' are not", async () => {
    const before = await waitForPods(ns, "web", 2);
    await rollout(ns, "web");
    const after = await eventually("the rollout to replace every pod", async () => {
      const now = await waitForPods(ns, "web", 2);
      return now.every((p) => !before.includes(p)) ? now : undefined;
    });
    await expectReadable(ns, sa, after, before);
  });

  test("pod deletion: the deleted pod's name stops being readable, its replacement becomes readable", async () => {
    const [victim] = await waitForPods(ns, "web", 2);
    await c.admin.delete(Pods, ns, victim!);
    const after = await eventually("a replacement pod", async () => {
      const now = await waitForPods(ns, "web", 2);
      return now.includes(victim!) ? undefined : now;
    });
    await expectReadable(ns, sa, after, [victim!]);
  });

  test("drift: a hand edit that adds another pod's name is reverted", async () => {
    const [otherPod] = await waitForPods(ns, "other", 1);
    const pods = await waitForPods(ns, "web", 2);
    const role = await getRole(ns, sa);
    const tampered = (role.rules ?? []).map((r) =>
      r.resources?.includes("pods/log") ? { ...r, resourceNames: [...(r.resourceNames ?? []), otherPod!] } : r,
    );
    await c.admin.mergePatch(Roles, ns, sa, { rules: tampered }, { fieldManager: TEST_FIELD_MANAGER });
    await expectReadable(ns, sa, pods);
    expect(await canReadLog(c.admin, ns, sa, otherPod!)).toBe(false);
  });

  test("opt-out: the Role, RoleBinding and the ServiceAccount it created are deleted", async () => {
    await patchDeployment(ns, "web", { spec: { template: { metadata: { labels: { "podlogreader-affiliate": null } } } } });
    for (const rt of [Roles, RoleBindings, ServiceAccounts]) {
      await waitUntilGone(rt, ns, sa);
    }
  });

  test("opting in again brings access back, to the pods of the new template", async () => {
    const before = await waitForPods(ns, "web", 2);
    await patchDeployment(ns, "web", { spec: { template: { metadata: { labels: OPT_IN } } } });
    const after = await eventually("the rollout to replace every pod", async () => {
      const now = await waitForPods(ns, "web", 2);
      return now.every((p) => !before.includes(p)) ? now : undefined;
    });
    await expectReadable(ns, sa, after);
  });

  test("Deployment deletion: garbage collection removes everything it owned", async () => {
    await c.admin.delete(Deployments, ns, "web");
    for (const rt of [Roles, RoleBindings, ServiceAccounts]) {
      await waitUntilGone(rt, ns, sa);
    }
  });
});

describe("several workloads and their boundaries", () => {
  let ns: string;
  let controller: RunningController;

  beforeAll(async () => {
    ns = await useNamespace("bounds");
    controller = await startController([ns]);
  });
  afterAll(() => controller.stop());

  test("two opted-in Deployments in one namespace each read only their own pods", async () => {
    await createDeployment(ns, "alpha", { replicas: 2 });
    await createDeployment(ns, "beta", { replicas: 2 });
    const alpha = await waitForPods(ns, "alpha", 2);
    const beta = await waitForPods(ns, "beta", 2);
    await expectReadable(ns, "podlogreader-alpha", alpha);
    await expectReadable(ns, "podlogreader-beta", beta);
  });

  test("a label value other than exactly 'enable' does not opt in", async () => {
    await createDeployment(ns, "almost", { replicas: 1, optIn: false, templateLabels: { "podlogreader-affiliate": "enabled" } });
    await createDeployment(ns, "witness", { replicas: 1 });
    await waitForPods(ns, "almost", 1);
    // Once the witness, created after it, has its Role, the controller has seen both.
    await eventually("the witness Role", async () => (await exists(Roles, ns, "podlogreader-witness")) || undefined);
    expect(await exists(Roles, ns, "podlogreader-almost")).toBe(false);
    expect(await exists(ServiceAccounts, ns, "podlogreader-almost")).toBe(false);
  });

  test("bare and forged pods are never granted, even with the opt-in label", async () => {
    await createDeployment(ns, "plain", { replicas: 1, optIn: false });
    const [plainPod] = await waitForPods(ns, "plain", 1);
    const plain = (await c.admin.get(Pods, ns, plainPod!)) as V1Pod;
    const pod = (name: string, ownerReferences?: V1OwnerReference[]) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels: { ...OPT_IN, app: "stray" }, ownerReferences },
      spec: { containers: [{ name: "c", image: "registry.invalid/x:1" }] },
    });
    await c.admin.create(Pods, ns, pod("bare-labelled"));
    // Claims the ReplicaSet of a Deployment that did not opt in.
    await c.admin.create(Pods, ns, pod("forged-owner", plain.metadata?.ownerReferences));
    await scale(ns, "alpha", 3);
    const alpha = await waitForPods(ns, "alpha", 3);
    await expectReadable(ns, "podlogreader-alpha", alpha);
    for (const name of ["bare-labelled", "forged-owner", plainPod!]) {
      expect(await canReadLog(c.admin, ns, "podlogreader-alpha", name)).toBe(false);
      expect(await canReadLog(c.admin, ns, "podlogreader-beta", name)).toBe(false);
    }
    expect(await exists(Roles, ns, "podlogreader-plain")).toBe(false);
  });

  test("a long name gets a shortened, hashed name that works", async () => {
    // 242 characters: the longest whose ReplicaSet name still fits, and too long for podlogreader-<name>.
    const name = `long-${"x".repeat(237)}`;
    const short = managedName("Deployment", name);
    expect(short).not.toBe(`podlogreader-${name}`);
    await createDeployment(ns, name, { replicas: 1 });
    const pods = await waitForPods(ns, name, 1);
    await expectReadable(ns, short, pods);
  });

  test("a foreign Role of the same name is left alone, with a Warning Event", async () => {
    const foreign = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "podlogreader-taken", labels: { team: "someone-else" } },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }],
    };
    const created = (await c.admin.create(Roles, ns, foreign)) as { metadata: { resourceVersion: string } };
    await createDeployment(ns, "taken", { replicas: 1 });
    const [pod] = await waitForPods(ns, "taken", 1);
    await eventually("a NameConflict Warning Event on the Deployment", async () => {
      const { items } = await c.admin.list(Events, { namespace: ns });
      return (
        (items as { reason?: string; involvedObject?: { name?: string } }[]).some(
          (e) => e.reason === "NameConflict" && e.involvedObject?.name === "taken",
        ) || undefined
      );
    });
    const after = (await c.admin.get(Roles, ns, "podlogreader-taken")) as { metadata: { resourceVersion: string } };
    expect(after.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(await canReadLog(c.admin, ns, "podlogreader-taken", pod!)).toBe(false);
  });
});

/** Whether a Warning Event with this reason is recorded on the Deployment `name`. */
async function warned(ns: string, name: string, reason: string): Promise<true | undefined> {
  const { items } = await c.admin.list(Events, { namespace: ns });
  return (
    (items as { type?: string; reason?: string; involvedObject?: { name?: string } }[]).some(
      (e) => e.type === "Warning" && e.reason === reason && e.involvedObject?.name === name,
    ) || undefined
  );
}

describe("an existing ServiceAccount of the same name that podlogreader did not create", () => {
  test("is never bound: its tokens read nothing; it is never modified, and not deleted on opt-out", async () => {
    const ns = await useNamespace("ownsa");
    const existing = (await c.admin.create(ServiceAccounts, ns, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "podlogreader-web", labels: { team: "payments" } },
    })) as { metadata: { resourceVersion: string; uid: string } };
    const controller = await startController([ns]);
    try {
      await createDeployment(ns, "web", { replicas: 2 });
      const pods = await waitForPods(ns, "web", 2);
      await eventually("a NameConflict Warning Event on the Deployment", () => warned(ns, "web", "NameConflict"));
      for (const pod of pods) expect(await canReadLog(c.admin, ns, "podlogreader-web", pod)).toBe(false);
      expect(await exists(RoleBindings, ns, "podlogreader-web")).toBe(false);
      await patchDeployment(ns, "web", { spec: { template: { metadata: { labels: { "podlogreader-affiliate": null } } } } });
      await waitUntilGone(Roles, ns, "podlogreader-web");
      // Time for the opt-out to be handled; nothing may have touched the ServiceAccount.
      await Bun.sleep(1500);
      const after = (await c.admin.get(ServiceAccounts, ns, "podlogreader-web")) as { metadata: { resourceVersion: string; uid: string } };
      expect(after.metadata).toMatchObject({ uid: existing.metadata.uid, resourceVersion: existing.metadata.resourceVersion });
    } finally {
      await controller.stop();
    }
  });
});

describe("a foreign ServiceAccount that goes away", () => {
  // Found by the chaos harness (seed 20260217, op 1584): the controller remembered the foreign
  // ServiceAccount and did not create its own until the next resync.
  test("is replaced by podlogreader's own ServiceAccount at once, not at the next resync, which then reads the pods", async () => {
    const ns = await useNamespace("gonesa");
    const existing = (await c.admin.create(ServiceAccounts, ns, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "podlogreader-web", labels: { team: "payments" } },
    })) as { metadata: { resourceVersion: string; uid: string } };
    const controller = await startController([ns], { resyncMs: 3_600_000 });
    try {
      await createDeployment(ns, "web", { replicas: 1 });
      const pods = await waitForPods(ns, "web", 1);
      await eventually("a NameConflict Warning Event on the Deployment", () => warned(ns, "web", "NameConflict"));
      expect(await canReadLog(c.admin, ns, "podlogreader-web", pods[0]!)).toBe(false);
      await c.admin.delete(ServiceAccounts, ns, "podlogreader-web", {
        uid: existing.metadata.uid,
        resourceVersion: existing.metadata.resourceVersion,
      });
      const own = await eventually(
        "podlogreader's own ServiceAccount",
        async () => {
          const sa = (await c.admin.get(ServiceAccounts, ns, "podlogreader-web").catch(() => undefined)) as
            | { metadata: { labels?: Record<string, string> } }
            | undefined;
          return sa?.metadata.labels?.["app.kubernetes.io/managed-by"] === "podlogreader" ? sa : undefined;
        },
        20_000,
      );
      expect(own.metadata.labels?.team).toBeUndefined();
      await expectReadable(ns, "podlogreader-web", pods);
    } finally {
      await controller.stop();
    }
  });
});

describe("namespaces", () => {
  test("Deployments of the same name in two watched namespaces never interfere", async () => {
    const [a, b] = [await useNamespace("twin"), await useNamespace("twin")];
    const controller = await startController([a!, b!]);
    try {
      await createDeployment(a!, "web", { replicas: 1 });
      await createDeployment(b!, "web", { replicas: 2 });
      await expectReadable(a!, "podlogreader-web", await waitForPods(a!, "web", 1));
      await expectReadable(b!, "podlogreader-web", await waitForPods(b!, "web", 2));
      await scale(a!, "web", 0);
      await expectReadable(a!, "podlogreader-web", []);
      await expectReadable(b!, "podlogreader-web", await waitForPods(b!, "web", 2));
    } finally {
      await controller.stop();
    }
  });

  test("a namespace that is not watched is left alone", async () => {
    const [watched, other] = [await useNamespace("watched"), await useNamespace("unwatched")];
    const controller = await startController([watched!]);
    try {
      await createDeployment(other!, "web", { replicas: 1 });
      await createDeployment(watched!, "web", { replicas: 1 });
      await expectReadable(watched!, "podlogreader-web", await waitForPods(watched!, "web", 1));
      expect(await exists(Roles, other!, "podlogreader-web")).toBe(false);
    } finally {
      await controller.stop();
    }
  });
});

describe("a workload that opts in before it has pods", () => {
  let ns: string;
  let controller: RunningController;

  beforeAll(async () => {
    ns = await useNamespace("born");
    controller = await startController([ns]);
    // Once this is readable the controller is past its first pass, which writes every workload at once.
    await createDeployment(ns, "warm", { replicas: 1 });
    await expectReadable(ns, "podlogreader-warm", await waitForPods(ns, "warm", 1));
  });
  afterAll(() => controller.stop());

  test("gets its first Role when its first pod comes, naming it: one write, not an empty Role and then an update", async () => {
    const roleEvents: { type: string; name: string; pods: string[] }[] = [];
    const watching = new AbortController();
    try {
      const { resourceVersion } = await c.admin.list(Roles, { namespace: ns });
      const events = await c.admin.watch(Roles, { namespace: ns, resourceVersion, timeoutSeconds: 120, signal: watching.signal });
      const collected = (async () => {
        for await (const ev of events) {
          const role = ev.object as { metadata?: { name?: string }; rules?: { resources?: string[]; resourceNames?: string[] }[] };
          const pods = role.rules?.find((r) => r.resources?.includes("pods/log"))?.resourceNames ?? [];
          roleEvents.push({ type: ev.type, name: role.metadata?.name ?? "", pods });
        }
      })().catch(() => {});
      // A paused Deployment makes no ReplicaSet, so it is managed with no pods until it is resumed.
      await createDeployment(ns, "late", { replicas: 1, paused: true });
      await Bun.sleep(1000); // well past --debounce (200 ms), within the wait for a first pod
      await patchDeployment(ns, "late", { spec: { paused: false } });
      const pods = await waitForPods(ns, "late", 1);
      await expectReadable(ns, "podlogreader-late", pods);
      await Bun.sleep(500); // a late write would show
      watching.abort();
      await collected;
      expect(roleEvents.filter((e) => e.type !== "BOOKMARK")).toEqual([{ type: "ADDED", name: "podlogreader-late", pods }]);
    } finally {
      watching.abort();
    }
  });

  test("still gets its Role, naming no pods, when none comes", async () => {
    await createDeployment(ns, "idle", { replicas: 0 });
    await eventually("the Role of a Deployment with no pods", async () => (await exists(Roles, ns, "podlogreader-idle")) || undefined);
    const role = await getRole(ns, "podlogreader-idle");
    expect(role.rules?.some((r) => r.resources?.includes("pods/log"))).toBe(false);
    await expectReadable(ns, "podlogreader-idle", []);
  });
});

describe("after the controller was down", () => {
  let ns: string;

  test("it corrects everything that changed meanwhile, and a restart with nothing changed writes nothing", async () => {
    ns = await useNamespace("restart");
    let controller = await startController([ns]);
    await createDeployment(ns, "grow", { replicas: 1 });
    await createDeployment(ns, "leave", { replicas: 1 });
    await createDeployment(ns, "vanish", { replicas: 1 });
    await createDeployment(ns, "steady", { replicas: 1 });
    for (const d of ["grow", "leave", "vanish", "steady"])
      await expectReadable(ns, managedName("Deployment", d), await waitForPods(ns, d, 1));
    await controller.stop();

    await scale(ns, "grow", 3);
    await patchDeployment(ns, "leave", { spec: { template: { metadata: { labels: { "podlogreader-affiliate": null } } } } });
    // Orphan: the Deployment goes without garbage collection, so only the controller can clean up.
    await c.admin.delete(Deployments, ns, "vanish", undefined, "Orphan");
    const steadyVersion = (await getRole(ns, "podlogreader-steady")).metadata.resourceVersion;
    await waitForPods(ns, "grow", 3);

    controller = await startController([ns]);
    try {
      await expectReadable(ns, "podlogreader-grow", await waitForPods(ns, "grow", 3));
      await waitUntilGone(Roles, ns, "podlogreader-leave");
      await waitUntilGone(Roles, ns, "podlogreader-vanish");
      await expectReadable(ns, "podlogreader-leave", []);
      expect((await getRole(ns, "podlogreader-steady")).metadata.resourceVersion).toBe(steadyVersion);
    } finally {
      await controller.stop();
    }

    const versions = await Promise.all(
      ["grow", "steady"].map(async (d) => (await getRole(ns, managedName("Deployment", d))).metadata.resourceVersion),
    );
    controller = await startController([ns]);
    // The new controller has caught up once it reverts a drift made after it started.
    await c.admin.mergePatch(
      Roles,
      ns,
      "podlogreader-steady",
      { metadata: { annotations: { "podlogreader.dev/workload": "tampered" } } },
      { fieldManager: TEST_FIELD_MANAGER },
    );
    await eventually("the tampered annotation to be reverted", async () => {
      const role = (await c.admin.get(Roles, ns, "podlogreader-steady")) as { metadata: { annotations: Record<string, string> } };
      return role.metadata.annotations["podlogreader.dev/workload"] === "Deployment/steady" || undefined;
    });
    await controller.stop();
    expect((await getRole(ns, "podlogreader-grow")).metadata.resourceVersion).toBe(versions[0]!);
  });
});
