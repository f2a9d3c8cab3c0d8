// What `podlogreader cleanup` judges made by podlogreader, the order it deletes in, what it says
// about bindings it leaves behind, and how it reads the Lease: pure functions, tables of cases.
import { describe, expect, test } from "bun:test";
import { deletedLine, leftAloneLine, permission } from "../../../../src/admin/cleanup/format.ts";
import { LeaseObserver, looksHeld } from "../../../../src/admin/cleanup/lease.ts";
import { looksLikePodlogreaders, madeByPodlogreader } from "../../../../src/admin/cleanup/made-by.ts";
import { planCleanup, type Found } from "../../../../src/admin/cleanup/plan.ts";
import type { ObjectMeta } from "../../../../src/kube/objects.ts";
import { Leases, Roles, ServiceAccounts } from "../../../../src/kube/resources.ts";

const label = { "app.kubernetes.io/managed-by": "podlogreader" };
const annotation = (ref: string) => ({ "podlogreader.dev/workload": ref });
const owner = (over: object = {}) => [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "u1", controller: true, ...over }];
/** Everything podlogreader sets on the objects of Deployment web. */
const marks = { labels: label, annotations: annotation("Deployment/web"), ownerReferences: owner() };
const meta = (m: Partial<ObjectMeta> = {}): ObjectMeta => ({
  name: "podlogreader-web",
  namespace: "ns",
  uid: "x",
  resourceVersion: "1",
  ...m,
});

describe("madeByPodlogreader: all three marks, naming one workload, under its managed name", () => {
  test.each([
    ["all marks of Deployment web", meta(marks), true],
    [
      "a StatefulSet's objects",
      meta({
        name: "podlogreader-sts-db",
        labels: label,
        annotations: annotation("StatefulSet/db"),
        ownerReferences: owner({ kind: "StatefulSet", name: "db" }),
      }),
      true,
    ],
    [
      "a CronJob's objects",
      meta({
        name: "podlogreader-cronjob-nightly",
        labels: label,
        annotations: annotation("CronJob/nightly"),
        ownerReferences: owner({ apiVersion: "batch/v1", kind: "CronJob", name: "nightly" }),
      }),
      true,
    ],
    ["a stale owner uid (the workload was created again)", meta({ ...marks, ownerReferences: owner({ uid: "old" }) }), true],
    ["the same name without the label", meta({ annotations: marks.annotations, ownerReferences: marks.ownerReferences }), false],
    ["another manager's label", meta({ ...marks, labels: { "app.kubernetes.io/managed-by": "helm" } }), false],
    ["the label only", meta({ labels: label }), false],
    ["label and owner, no annotation", meta({ labels: label, ownerReferences: owner() }), false],
    ["label and annotation, no ownerReference (orphaned, or made by hand)", meta({ labels: label, annotations: marks.annotations }), false],
    ["a non-controller owner only", meta({ ...marks, ownerReferences: owner({ controller: false }) }), false],
    ["an owner that is not a workload", meta({ ...marks, ownerReferences: owner({ apiVersion: "v1", kind: "ConfigMap" }) }), false],
    [
      "an owner of a workload kind in another API group",
      meta({ ...marks, ownerReferences: owner({ apiVersion: "example.com/v1" }) }),
      false,
    ],
    ["an annotation naming another workload", meta({ ...marks, annotations: annotation("Deployment/api") }), false],
    ["a name podlogreader does not give that workload", meta({ ...marks, name: "podlogreader-web-copy" }), false],
    ["the name of another kind's objects", meta({ ...marks, name: "podlogreader-sts-web" }), false],
  ])("%s: %p", (_, m, made) => {
    expect(madeByPodlogreader(m).made).toBe(made);
  });

  test("says which mark is missing", () => {
    expect(madeByPodlogreader(meta({ labels: label }))).toEqual({ made: false, why: "it lacks the annotation podlogreader.dev/workload" });
    expect(madeByPodlogreader(meta({ ...marks, name: "x" }))).toEqual({
      made: false,
      why: "podlogreader names the objects of Deployment/web podlogreader-web",
    });
    expect(madeByPodlogreader(meta(marks))).toEqual({ made: true, workload: { kind: "Deployment", name: "web" } });
  });

  test.each([
    [meta({ labels: label, name: "anything" }), true],
    [meta({ annotations: annotation("Deployment/x"), name: "anything" }), true],
    [meta({ name: "podlogreader-web" }), true],
    [meta({ name: "default" }), false],
  ])("looksLikePodlogreaders(%p) is %p", (m, expected) => {
    expect(looksLikePodlogreaders(m)).toBe(expected);
  });
});

const role = (m: ObjectMeta): Found => ({ kind: "Role", metadata: m });
const account = (m: ObjectMeta): Found => ({ kind: "ServiceAccount", metadata: m });
const binding = (m: ObjectMeta, roleName: string, subjects: { kind: string; name: string; namespace?: string }[]): Found => ({
  kind: "RoleBinding",
  metadata: m,
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
  subjects,
});

describe("planCleanup", () => {
  const ours = (ns: string, name = "web") =>
    meta({
      namespace: ns,
      name: `podlogreader-${name}`,
      uid: `${ns}-${name}`,
      labels: label,
      annotations: annotation(`Deployment/${name}`),
      ownerReferences: owner({ name }),
    });

  test("targets each kind sorted by namespace and name, with the version judged; look-alikes are left alone with the reason", () => {
    const plan = planCleanup([
      account(ours("b")),
      role(ours("b")),
      role(ours("a", "zeta")),
      role(ours("a")),
      binding(ours("a"), "podlogreader-web", [{ kind: "ServiceAccount", name: "podlogreader-web" }]),
      role(meta({ namespace: "a", name: "podlogreader-lookalike" })),
      role(meta({ namespace: "a", name: "unrelated" })),
    ]);
    expect(plan.targets.RoleBinding.map((t) => `${t.namespace}/${t.name}`)).toEqual(["a/podlogreader-web"]);
    expect(plan.targets.Role.map((t) => `${t.namespace}/${t.name}`)).toEqual([
      "a/podlogreader-web",
      "a/podlogreader-zeta",
      "b/podlogreader-web",
    ]);
    expect(plan.targets.ServiceAccount).toEqual([
      { kind: "ServiceAccount", namespace: "b", name: "podlogreader-web", uid: "b-web", resourceVersion: "1", workload: "Deployment/web" },
    ]);
    expect(plan.leftAlone).toEqual([
      {
        kind: "Role",
        namespace: "a",
        name: "podlogreader-lookalike",
        why: "not made by podlogreader: it lacks the label app.kubernetes.io/managed-by=podlogreader",
      },
    ]);
    expect(plan.warnings).toEqual([]);
  });

  test("warns of a foreign binding that names a removed ServiceAccount or Role, also across namespaces", () => {
    const plan = planCleanup([
      account(ours("a")),
      role(ours("a")),
      binding(meta({ namespace: "a", name: "theirs" }), "podlogreader-web", [{ kind: "ServiceAccount", name: "podlogreader-web" }]),
      binding(meta({ namespace: "c", name: "elsewhere" }), "viewer", [
        { kind: "ServiceAccount", name: "podlogreader-web", namespace: "a" },
      ]),
      binding(meta({ namespace: "c", name: "same-name-other-ns" }), "viewer", [{ kind: "ServiceAccount", name: "podlogreader-web" }]),
      binding(meta({ namespace: "a", name: "a-user" }), "viewer", [{ kind: "User", name: "podlogreader-web" }]),
    ]);
    expect(plan.warnings).toEqual([
      "RoleBinding a/theirs, which podlogreader did not make, binds ServiceAccount a/podlogreader-web, which is removed; a " +
        "ServiceAccount created later under that name gets what it grants",
      "RoleBinding a/theirs, which podlogreader did not make, refers to Role a/podlogreader-web, which is removed; a Role created " +
        "later under that name is granted through it",
      "RoleBinding c/elsewhere, which podlogreader did not make, binds ServiceAccount a/podlogreader-web, which is removed; a " +
        "ServiceAccount created later under that name gets what it grants",
    ]);
  });

  test("nothing found, nothing planned", () => {
    expect(planCleanup([])).toEqual({ targets: { RoleBinding: [], Role: [], ServiceAccount: [] }, leftAlone: [], warnings: [] });
  });
});

describe("the Lease", () => {
  const spec = (holder: string | null, renewTime: string, leaseDurationSeconds = 15) => ({
    holderIdentity: holder,
    renewTime,
    leaseDurationSeconds,
  });
  const t0 = Date.parse("2026-01-01T00:00:00Z");

  test.each([
    [undefined, false],
    [spec(null, "2026-01-01T00:00:00.000000Z", 1), false],
    [spec("a", "2026-01-01T00:00:00.000000Z"), true],
    [spec("a", "2025-12-31T23:59:00.000000Z"), false],
    [{ holderIdentity: "a" }, true],
  ])("looksHeld(%p) at t0 is %p", (s, held) => {
    expect(looksHeld(s, t0)).toBe(held);
  });

  test("the observer frees a lease once released, or after its record stayed the same for its duration on its own clock", () => {
    const o = new LeaseObserver();
    // The holder's clock is far off; only this process's clock counts.
    expect(o.isFree(spec("a", "2020-01-01T00:00:00.000000Z"), t0)).toBe(false);
    expect(o.isFree(spec("a", "2020-01-01T00:00:00.000000Z"), t0 + 14_999)).toBe(false);
    expect(o.isFree(spec("a", "2020-01-01T00:00:02.000000Z"), t0 + 14_999)).toBe(false); // renewed: the clock starts again
    expect(o.isFree(spec("a", "2020-01-01T00:00:02.000000Z"), t0 + 29_998)).toBe(false);
    expect(o.isFree(spec("a", "2020-01-01T00:00:02.000000Z"), t0 + 29_999)).toBe(true);
    expect(new LeaseObserver().isFree(spec(null, "2020-01-01T00:00:00.000000Z", 1), t0)).toBe(true);
    expect(new LeaseObserver().isFree(undefined, t0)).toBe(true);
  });
});

describe("format", () => {
  test("kubectl delete's words", () => {
    expect(deletedLine(Roles, "ns", "podlogreader-web", false)).toBe(
      'role.rbac.authorization.k8s.io "podlogreader-web" deleted from ns namespace',
    );
    expect(deletedLine(ServiceAccounts, "ns", "podlogreader-web", true)).toBe(
      'serviceaccount "podlogreader-web" deleted from ns namespace (server dry run)',
    );
    expect(leftAloneLine(Roles, "ns", "x", "why")).toBe("left alone: role.rbac.authorization.k8s.io ns/x: why");
  });

  test("a permission as a rule grants it", () => {
    expect(permission("delete", Roles, { namespace: "ns" })).toBe('delete roles.rbac.authorization.k8s.io in namespace "ns"');
    expect(permission("list", ServiceAccounts, {})).toBe("list serviceaccounts in all namespaces (cluster-wide)");
    expect(permission("get", Leases, { namespace: "sys", name: "podlogreader" })).toBe(
      'get leases.coordination.k8s.io named "podlogreader" in namespace "sys"',
    );
  });
});
