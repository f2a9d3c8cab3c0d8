import { describe, expect, test } from "bun:test";
import { desiredAccess, roleRules } from "../../../src/access/desired.ts";
import type { Workload } from "../../../src/access/membership.ts";

const web: Pick<Workload, "kind" | "namespace" | "name" | "uid"> = { kind: "Deployment", namespace: "shop", name: "web", uid: "uid-web" };
const both = { podVisibility: "namespace" as const, createServiceAccountAndRoleBinding: true };
const ownRole = { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["get"], resourceNames: ["podlogreader-web"] };

describe("roleRules", () => {
  test("own visibility: get, list and watch on exactly the named pods and get on their logs, the Deployment, and its own Role", () => {
    expect(roleRules(web, ["web-b", "web-a"], { podVisibility: "own" })).toEqual([
      { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"], resourceNames: ["web-a", "web-b"] },
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: ["web"] },
      ownRole,
    ]);
  });

  test("namespace visibility adds get, list and watch on every pod of the namespace, and nothing on their logs", () => {
    const rules = roleRules(web, ["web-a"], { podVisibility: "namespace" });
    expect(rules.slice(0, 3)).toEqual(roleRules(web, ["web-a"], { podVisibility: "own" }));
    expect(rules[3]).toEqual({ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] });
    expect(rules).toHaveLength(4);
  });

  test.each([["own" as const], ["namespace" as const]])("with no pods, no rule names pods at all (%s visibility)", (podVisibility) => {
    const rules = roleRules(web, [], { podVisibility });
    for (const rule of rules) {
      if (rule.resources?.includes("pods/log")) throw new Error("a pods/log rule remained");
      if (rule.resourceNames === undefined) continue;
      if (rule.resources?.includes("pods")) throw new Error("a rule naming pods remained");
      if (rule.resourceNames !== undefined) expect(rule.resourceNames.length).toBeGreaterThan(0);
    }
  });

  test("every rule that has resourceNames has at least one", () => {
    for (const pods of [[], ["a"], ["a", "b", "c"]]) {
      for (const rule of roleRules(web, pods, { podVisibility: "namespace" })) {
        if (rule.resourceNames) expect(rule.resourceNames.length).toBeGreaterThan(0);
      }
    }
  });

  test("duplicate pod names are listed once", () => {
    expect(roleRules(web, ["a", "a"], { podVisibility: "own" })[0]!.resourceNames).toEqual(["a"]);
  });
});

describe("desiredAccess", () => {
  test("marks everything with the managed-by label, the workload annotation and a controller reference", () => {
    const desired = desiredAccess(web, ["web-a"], both);
    for (const obj of [desired.role, desired.serviceAccount!, desired.roleBinding!]) {
      expect(obj.metadata).toMatchObject({
        name: "podlogreader-web",
        namespace: "shop",
        labels: { "app.kubernetes.io/managed-by": "podlogreader" },
        annotations: { "podlogreader.dev/workload": "Deployment/web" },
        ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "uid-web", controller: true }],
      });
    }
  });

  test("binds the Role to the ServiceAccount of the same name", () => {
    const { roleBinding } = desiredAccess(web, [], both);
    expect(roleBinding!.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "podlogreader-web" });
    expect(roleBinding!.subjects).toEqual([{ kind: "ServiceAccount", name: "podlogreader-web", namespace: "shop" }]);
  });

  test("without --create-sa-and-rolebinding only the Role is kept", () => {
    const desired = desiredAccess(web, ["web-a"], { podVisibility: "own", createServiceAccountAndRoleBinding: false });
    expect(desired.serviceAccount).toBeUndefined();
    expect(desired.roleBinding).toBeUndefined();
  });

  test("a long Deployment name gets one shortened name for all three objects, and its full name in the annotation", () => {
    const name = "x".repeat(253);
    const desired = desiredAccess({ ...web, name }, [], both);
    expect(desired.role.metadata.name.length).toBeLessThanOrEqual(253);
    expect(desired.serviceAccount!.metadata.name).toBe(desired.role.metadata.name);
    expect(desired.roleBinding!.roleRef.name).toBe(desired.role.metadata.name);
    expect(desired.role.metadata.annotations["podlogreader.dev/workload"]).toBe(`Deployment/${name}`);
  });
});

describe("rules per kind", () => {
  test.each([
    ["StatefulSet", "apps", "statefulsets"],
    ["DaemonSet", "apps", "daemonsets"],
    ["ReplicaSet", "apps", "replicasets"],
    ["Job", "batch", "jobs"],
  ] as const)("a %s's Role lets kubectl logs %s/NAME get the workload", (kind, group, plural) => {
    const rules = roleRules({ ...web, kind }, ["p"], { podVisibility: "own" });
    expect(rules).toContainEqual({ apiGroups: [group], resources: [plural], verbs: ["get"], resourceNames: ["web"] });
  });

  test("a CronJob's Role grants no get on the CronJob: kubectl logs does not support it", () => {
    const rules = roleRules({ ...web, kind: "CronJob" }, ["p"], { podVisibility: "namespace" });
    expect(rules.some((r) => r.resources?.includes("cronjobs"))).toBe(false);
    expect(rules[0]).toEqual({ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"], resourceNames: ["p"] });
  });

  test("a CronJob's Role grants get on its current Jobs by name, for kubectl logs job/NAME, and no Job rule when it has none", () => {
    const cron = { ...web, kind: "CronJob" as const };
    expect(roleRules(cron, ["p"], { podVisibility: "own" }, ["web-2", "web-1"])).toContainEqual({
      apiGroups: ["batch"],
      resources: ["jobs"],
      verbs: ["get"],
      resourceNames: ["web-1", "web-2"],
    });
    expect(roleRules(cron, ["p"], { podVisibility: "own" }, []).some((r) => r.resources?.includes("jobs"))).toBe(false);
  });

  test("the controller reference carries the kind's API version", () => {
    const { role } = desiredAccess({ ...web, kind: "CronJob" }, [], both);
    expect(role.metadata.ownerReferences[0]).toMatchObject({ apiVersion: "batch/v1", kind: "CronJob", name: "web" });
    expect(role.metadata.name).toBe("podlogreader-cronjob-web");
  });
});
