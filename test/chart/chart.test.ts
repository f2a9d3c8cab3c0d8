// The Helm chart as code: lint, schema, and what each combination of values renders.
import { describe, expect, test } from "bun:test";
import type { V1ClusterRole, V1CronJob, V1Deployment, V1Role } from "@kubernetes/client-node";
import { chartDir, find, permissions, render, runHelm } from "../support/chart.ts";

const args = (manifests: ReturnType<typeof render>) => find<V1Deployment>(manifests, "Deployment")[0]!.spec!.template.spec!.containers[0]!.args!;

test("helm lint passes", () => {
  const r = runHelm(["lint", chartDir, "--strict"]);
  expect(r.stderr + r.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
  expect(r.status).toBe(0);
});

describe("defaults", () => {
  const m = render("pl", "ops");

  test("everything namespaced goes to the release namespace, and no Namespace is created", () => {
    expect(find(m, "Namespace")).toEqual([]);
    for (const obj of m.filter((o) => !["ClusterRole", "ClusterRoleBinding"].includes(o.kind))) expect(obj.metadata.namespace).toBe("ops");
  });

  test("a ClusterRole without wildcards, escalate or bind, and without ServiceAccount or RoleBinding access", () => {
    const [role] = find<V1ClusterRole>(m, "ClusterRole");
    const perms = permissions(role!.rules!);
    expect(perms.some((p) => p.includes("*"))).toBe(false);
    expect(perms.some((p) => p.endsWith(":escalate") || p.endsWith(":bind"))).toBe(false);
    expect(perms.some((p) => p.includes("serviceaccounts") || p.includes("rolebindings"))).toBe(false);
    for (const needed of ["/pods:get", "/pods/log:get", "/pods:list", "apps/deployments:get", "rbac.authorization.k8s.io/roles:create"]) {
      expect(perms).toContain(needed);
    }
  });

  test("leader election may touch only its own Lease, in the release namespace", () => {
    const [role] = find<V1Role>(m, "Role", "pl-podlogreader-leader-election");
    expect(role!.metadata!.namespace).toBe("ops");
    expect(role!.rules).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["pl-podlogreader"], verbs: ["get", "update"] },
    ]);
  });

  test("2 replicas with leader election, health probes and a locked-down pod", () => {
    const [d] = find<V1Deployment>(m, "Deployment");
    const pod = d!.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(d!.spec!.replicas).toBe(2);
    expect(container.args).toContain("--leader-elect");
    expect(container.args).toContain("--leader-election-namespace=ops");
    expect(container.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(find(m, "ServiceMonitor")).toEqual([]);
  });
});

test("createServiceAccountAndRoleBinding adds ServiceAccount and RoleBinding writes, and passes the flag", () => {
  const m = render("pl", "ops", { createServiceAccountAndRoleBinding: true });
  const perms = permissions(find<V1ClusterRole>(m, "ClusterRole")[0]!.rules!);
  for (const p of ["rbac.authorization.k8s.io/rolebindings:create", "rbac.authorization.k8s.io/rolebindings:delete", "/serviceaccounts:create", "/serviceaccounts:delete"]) {
    expect(perms).toContain(p);
  }
  expect(args(m)).toContain("--create-sa-and-rolebinding=true");
});

test("watched namespaces get a Role each instead of a ClusterRole", () => {
  const m = render("pl", "ops", { watchNamespaces: ["team-a", "team-b"] });
  expect(find(m, "ClusterRole")).toEqual([]);
  expect(find(m, "ClusterRoleBinding")).toEqual([]);
  const roles = find<V1Role>(m, "Role", "pl-podlogreader");
  expect(roles.map((r) => r.metadata!.namespace).sort()).toEqual(["team-a", "team-b"]);
  const bindings = find(m, "RoleBinding", "pl-podlogreader");
  expect(bindings.map((b) => b.metadata.namespace).sort()).toEqual(["team-a", "team-b"]);
  expect(args(m)).toEqual(expect.arrayContaining(["--namespace=team-a", "--namespace=team-b"]));
});

test("values reach the flags", () => {
  const m = render("pl", "ops", { podVisibility: "namespace", debounce: "100ms", resync: "5m", logLevel: "debug", logFormat: "text", replicas: 1 });
  expect(args(m)).toEqual(expect.arrayContaining(["--pod-visibility=namespace", "--debounce=100ms", "--resync=5m", "--log-level=debug", "--log-format=text"]));
  expect(find<V1Deployment>(m, "Deployment")[0]!.spec!.replicas).toBe(1);
});

test("a ServiceMonitor when asked for", () => {
  const m = render("pl", "ops", { serviceMonitor: { enabled: true, interval: "15s", labels: { release: "prom" } } });
  const [sm] = find(m, "ServiceMonitor");
  expect(sm!.metadata.labels).toMatchObject({ release: "prom" });
});

describe("values.schema.json refuses bad values", () => {
  test.each([
    [{ replicas: 0 }],
    [{ logFormat: "xml" }],
    [{ debounce: "soon" }],
    [{ watchNamespaces: ["Not_A_Namespace"] }],
    [{ createServiceAccountAndRoleBinding: "yes" }],
    [{ unknownKey: true }],
  ])("%p", (values) => {
    expect(() => render("pl", "ops", values)).toThrow("helm template failed");
  });
});

describe("the optional audit CronJob", () => {
  test("is off by default", () => {
    expect(find(render("pl", "ops"), "CronJob")).toEqual([]);
  });

  test("runs `audit --output json` as its own ServiceAccount, which may only create reviews and list", () => {
    const m = render("pl", "ops", { audit: { enabled: true, schedule: "0 * * * *" } });
    const [job] = find<V1CronJob>(m, "CronJob");
    expect(job!.spec!.schedule).toBe("0 * * * *");
    const pod = job!.spec!.jobTemplate.spec!.template.spec!;
    expect(pod.serviceAccountName).toBe("pl-podlogreader-audit");
    expect(pod.containers[0]!.args).toEqual(["audit", "--output", "json"]);
    const reviews = find<V1ClusterRole>(m, "ClusterRole", "pl-podlogreader-audit-reviews")[0]!;
    expect(permissions(reviews.rules!)).toEqual(["authorization.k8s.io/subjectaccessreviews:create"]);
    const reads = find<V1ClusterRole>(m, "ClusterRole", "pl-podlogreader-audit-reads")[0]!;
    expect(permissions(reads.rules!).every((p) => p.endsWith(":list"))).toBe(true);
  });

  test("with watched namespaces, one CronJob and one reading Role per namespace", () => {
    const m = render("pl", "ops", { audit: { enabled: true }, watchNamespaces: ["a", "b"] });
    expect(find(m, "CronJob").map((j) => j.metadata.name).sort()).toEqual(["pl-podlogreader-audit-a", "pl-podlogreader-audit-b"]);
    expect(find(m, "Role", "pl-podlogreader-audit-reads").map((r) => r.metadata.namespace).sort()).toEqual(["a", "b"]);
    expect(find(m, "ClusterRole", "pl-podlogreader-audit-reads")).toEqual([]);
  });
});
