// The Helm chart as code: lint, schema, and what each combination of values renders.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type {
  V1ClusterRole,
  V1ConfigMap,
  V1CronJob,
  V1Deployment,
  V1Job,
  V1Pod,
  V1PodDisruptionBudget,
  V1Role,
} from "@kubernetes/client-node";
import { GRANT_POLICY_NAME } from "../../src/admin/grants/grant.ts";
import { chartDir, EVERYTHING_ON, find, isHook, KUBE_VERSION, permissions, render, runHelm, setFlags, template } from "../support/chart.ts";

const deployment = (m: ReturnType<typeof render>) => find<V1Deployment>(m, "Deployment")[0]!;
const args = (m: ReturnType<typeof render>) => deployment(m).spec!.template.spec!.containers[0]!.args!;

describe("helm lint --strict", () => {
  test.each([
    ["the defaults", {}],
    ["every optional part on", EVERYTHING_ON],
    ["every optional part on, with watched namespaces and one replica", { ...EVERYTHING_ON, watchNamespaces: ["a", "b"], replicaCount: 1 }],
  ])("passes with %s", (_, values) => {
    const r = runHelm(["lint", chartDir, "--strict", "--kube-version", KUBE_VERSION, ...setFlags(values)]);
    expect(r.stderr + r.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(r.stdout).not.toContain("[WARNING]");
    expect(r.status).toBe(0);
  });
});

describe("defaults", () => {
  const m = render("pl", "ops");

  test("everything namespaced goes to the release namespace, and no Namespace is created", () => {
    expect(find(m, "Namespace")).toEqual([]);
    for (const obj of m.filter(
      (o) => !["ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"].includes(o.kind),
    ))
      expect(obj.metadata.namespace).toBe("ops");
  });

  test(
    "a ClusterRole without wildcards, escalate or bind, without ServiceAccount access, and RoleBindings only to watch, delete " +
      "and patch (ending grants)",
    () => {
      const [role] = find<V1ClusterRole>(
        m.filter((o) => !isHook(o)),
        "ClusterRole",
      );
      const perms = permissions(role!.rules!);
      expect(perms.some((p) => p.includes("*"))).toBe(false);
      expect(perms.some((p) => p.endsWith(":escalate") || p.endsWith(":bind"))).toBe(false);
      expect(perms.some((p) => p.includes("serviceaccounts"))).toBe(false);
      expect(perms.filter((p) => p.includes("rolebindings")).sort()).toEqual([
        "rbac.authorization.k8s.io/rolebindings:delete",
        "rbac.authorization.k8s.io/rolebindings:list",
        "rbac.authorization.k8s.io/rolebindings:patch",
        "rbac.authorization.k8s.io/rolebindings:watch",
      ]);
      for (const needed of ["/pods:get", "/pods/log:get", "/pods:list", "apps/deployments:get", "rbac.authorization.k8s.io/roles:create"]) {
        expect(perms).toContain(needed);
      }
    },
  );

  test("leader election may touch only its own Lease, in the release namespace", () => {
    const [role] = find<V1Role>(m, "Role", "pl-podlogreader:leader-election");
    expect(role!.metadata!.namespace).toBe("ops");
    expect(role!.rules).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["pl-podlogreader"], verbs: ["get", "update"] },
    ]);
    expect(args(m)).toContain("--leader-election-id=pl-podlogreader");
  });

  test("2 replicas with leader election, spread over nodes, a PodDisruptionBudget and a locked-down pod", () => {
    const d = deployment(m);
    const pod = d.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(d.spec!.replicas).toBe(2);
    expect(container.args).toEqual(
      expect.arrayContaining([
        "--leader-elect",
        "--leader-election-namespace=ops",
        "--leader-elect-lease-duration=15s",
        "--leader-elect-renew-deadline=10s",
        "--leader-elect-retry-period=2s",
      ]),
    );
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    const term = pod.affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution![0]!.podAffinityTerm;
    expect(term.topologyKey).toBe("kubernetes.io/hostname");
    expect(term.labelSelector!.matchLabels).toEqual(d.spec!.selector.matchLabels);
    const [pdb] = find<V1PodDisruptionBudget>(m, "PodDisruptionBudget");
    expect(pdb!.spec).toEqual({ minAvailable: 1, selector: { matchLabels: d.spec!.selector.matchLabels! } });
    expect(find(m, "ServiceMonitor")).toEqual([]);
  });

  test("liveness /healthz and readiness /readyz on the health port, /metrics on the metrics port, as the flags say", () => {
    const container = deployment(m).spec!.template.spec!.containers[0]!;
    const port = (name: unknown) => container.ports!.find((p) => p.name === name)!.containerPort;
    expect(container.livenessProbe!.httpGet!.path).toBe("/healthz");
    expect(container.readinessProbe!.httpGet!.path).toBe("/readyz");
    expect(port(container.livenessProbe!.httpGet!.port)).toBe(8081);
    expect(port(container.readinessProbe!.httpGet!.port)).toBe(8081);
    expect(container.args).toContain("--health-probe-bind-address=:8081");
    expect(container.args).toContain("--metrics-bind-address=:8080");
    expect(port("metrics")).toBe(8080);
    const [svc] = find<{ spec: { ports: { targetPort: string }[] } }>(m, "Service");
    expect(svc!.spec.ports.map((p) => p.targetPort)).toEqual(["metrics"]);
  });

  test("the image is repository:appVersion", () => {
    expect(deployment(m).spec!.template.spec!.containers[0]!.image).toBe("podlogreader:0.1.0");
  });
});

describe("values reach the objects", () => {
  test("flags", () => {
    const m = render("pl", "ops", {
      podVisibility: "namespace",
      debounce: "100ms",
      resync: "5m",
      logLevel: "debug",
      logFormat: "text",
      extraArgs: ["--workers=4"],
      leaderElection: { leaseDuration: "30s", renewDeadline: "20s", retryPeriod: "5s" },
    });
    expect(args(m)).toEqual(
      expect.arrayContaining([
        "--pod-visibility=namespace",
        "--debounce=100ms",
        "--resync=5m",
        "--log-level=debug",
        "--log-format=text",
        "--workers=4",
        "--leader-elect-lease-duration=30s",
        "--leader-elect-renew-deadline=20s",
        "--leader-elect-retry-period=5s",
      ]),
    );
  });

  test("image: registry and digest (the digest wins over the tag), pull secrets", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const m = render("pl", "ops", {
      image: { registry: "registry.example.com", repository: "team/podlogreader", tag: "9.9.9", digest, pullPolicy: "Always" },
      imagePullSecrets: [{ name: "pull" }],
      ...EVERYTHING_ON,
    });
    const pods = podSpecs(m);
    expect(pods.length).toBeGreaterThan(3);
    for (const pod of pods) {
      expect(pod.imagePullSecrets).toEqual([{ name: "pull" }]);
      for (const c of pod.containers)
        expect([c.image, c.imagePullPolicy]).toEqual([`registry.example.com/team/podlogreader@${digest}`, "Always"]);
    }
    expect(render("pl", "ops", { "image.tag": "9.9.9" }).map((o) => o).length).toBeGreaterThan(0);
    expect(deployment(render("pl", "ops", { "image.tag": "9.9.9" })).spec!.template.spec!.containers[0]!.image).toBe("podlogreader:9.9.9");
  });

  test("one replica: no PodDisruptionBudget and no anti-affinity; an affinity given replaces the default", () => {
    const one = render("pl", "ops", { replicaCount: 1 });
    expect(find(one, "PodDisruptionBudget")).toEqual([]);
    expect(deployment(one).spec!.template.spec!.affinity).toBeUndefined();
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["ops"] }] }],
        },
      },
    };
    expect(deployment(render("pl", "ops", { affinity })).spec!.template.spec!.affinity).toEqual(affinity);
  });

  test("scheduling, labels, environment and security contexts", () => {
    const spread = [
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: { app: "x" } },
      },
    ];
    const m = render("pl", "ops", {
      ...EVERYTHING_ON,
      priorityClassName: "system-cluster-critical",
      topologySpreadConstraints: spread,
      podLabels: { team: "ops" },
      commonLabels: { cost: "platform" },
      extraEnv: [{ name: "TZ", value: "UTC" }],
      podSecurityContext: { runAsUser: 1000, runAsGroup: null },
      securityContext: { capabilities: { drop: ["NET_RAW"] } },
    });
    const pod = deployment(m).spec!.template;
    expect(pod.spec!.priorityClassName).toBe("system-cluster-critical");
    expect(pod.spec!.topologySpreadConstraints).toEqual(spread);
    expect(pod.metadata!.labels).toMatchObject({ team: "ops", cost: "platform" });
    expect(pod.spec!.containers[0]!.env).toEqual([{ name: "TZ", value: "UTC" }]);
    // Helm merges given maps into the defaults; a key set to null is taken out.
    expect(pod.spec!.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.spec!.containers[0]!.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["NET_RAW"] },
    });
    for (const obj of m) expect([obj.kind, obj.metadata.labels?.cost]).toEqual([obj.kind, "platform"]);
  });

  test("the audit CronJob has its own resources and scheduling", () => {
    const m = render("pl", "ops", {
      audit: {
        enabled: true,
        schedule: "@hourly",
        resources: { limits: { memory: "1Gi" }, requests: null },
        nodeSelector: { pool: "batch" },
        tolerations: [{ key: "batch", operator: "Exists" }],
        affinity: { podAffinity: {} },
      },
    });
    const [job] = find<V1CronJob>(m, "CronJob");
    expect(job!.spec!.schedule).toBe("@hourly");
    const pod = job!.spec!.jobTemplate.spec!.template.spec!;
    expect(pod.containers[0]!.resources).toEqual({ limits: { memory: "1Gi" } });
    expect(pod.nodeSelector).toEqual({ pool: "batch" });
    expect(pod.tolerations).toEqual([{ key: "batch", operator: "Exists" }]);
    expect(pod.affinity).toEqual({ podAffinity: {} });
  });

  test("serviceAccount: annotations, or an existing one (create: false)", () => {
    const made = render("pl", "ops", { serviceAccount: { create: true, annotations: { "iam.example.com/role": "x" } } });
    expect(find(made, "ServiceAccount", "pl-podlogreader")[0]!.metadata.annotations).toEqual({ "iam.example.com/role": "x" });
    const existing = render("pl", "ops", { serviceAccount: { create: false, name: "mine" } });
    expect(
      find(
        existing.filter((o) => !isHook(o)),
        "ServiceAccount",
      ),
    ).toEqual([]);
    expect(deployment(existing).spec!.template.spec!.serviceAccountName).toBe("mine");
    const installed = existing.filter((o) => !isHook(o));
    const bindings = [
      ...find<{ subjects: { name: string }[] }>(installed, "ClusterRoleBinding"),
      ...find<{ subjects: { name: string }[] }>(installed, "RoleBinding"),
    ];
    expect(bindings.flatMap((b) => b.subjects.map((s) => s.name))).toEqual(["mine", "mine"]);
  });

  test("createServiceAccountAndRoleBinding adds ServiceAccount and RoleBinding writes, and passes the flag", () => {
    const m = render("pl", "ops", { createServiceAccountAndRoleBinding: true });
    const perms = permissions(find<V1ClusterRole>(m, "ClusterRole", "pl-podlogreader:controller")[0]!.rules!);
    for (const p of [
      "rbac.authorization.k8s.io/rolebindings:create",
      "rbac.authorization.k8s.io/rolebindings:patch",
      "rbac.authorization.k8s.io/rolebindings:delete",
      "/serviceaccounts:create",
      "/serviceaccounts:delete",
    ]) {
      expect(perms).toContain(p);
    }
    expect(perms.filter((p) => p.includes("rolebindings")).length).toBe(new Set(perms.filter((p) => p.includes("rolebindings"))).size);
    expect(args(m)).toContain("--create-sa-and-rolebinding=true");
  });

  test("watched namespaces get a Role each instead of a ClusterRole", () => {
    const m = render("pl", "ops", { watchNamespaces: ["team-a", "team-b"] }).filter((o) => !isHook(o));
    expect(find(m, "ClusterRole")).toEqual([]);
    expect(find(m, "ClusterRoleBinding")).toEqual([]);
    expect(
      find(m, "Role", "pl-podlogreader:controller")
        .map((r) => r.metadata.namespace)
        .sort(),
    ).toEqual(["team-a", "team-b"]);
    expect(
      find(m, "RoleBinding", "pl-podlogreader:controller")
        .map((b) => b.metadata.namespace)
        .sort(),
    ).toEqual(["team-a", "team-b"]);
    expect(args(m)).toEqual(expect.arrayContaining(["--namespace=team-a", "--namespace=team-b"]));
  });

  test("a ServiceMonitor when asked for", () => {
    const m = render("pl", "ops", { serviceMonitor: { enabled: true, interval: "15s", labels: { release: "prom" } } });
    const [sm] = find<{ metadata: { labels: object }; spec: { endpoints: { port: string }[] } }>(m, "ServiceMonitor");
    expect(sm!.metadata.labels).toMatchObject({ release: "prom" });
    expect(sm!.spec.endpoints[0]!.port).toBe("metrics");
  });
});

/** Every pod spec the chart renders: controller, audit CronJob, cleanup Job, test Pod. */
function podSpecs(m: ReturnType<typeof render>) {
  return [
    ...find<V1Deployment>(m, "Deployment").map((d) => d.spec!.template.spec!),
    ...find<V1CronJob>(m, "CronJob").map((j) => j.spec!.jobTemplate.spec!.template.spec!),
    ...find<V1Job>(m, "Job").map((j) => j.spec!.template.spec!),
    ...find<V1Pod>(m, "Pod").map((p) => p.spec!),
  ];
}

describe("values.schema.json refuses bad values", () => {
  test.each([
    [{ replicaCount: 0 }],
    [{ replicas: 2 }],
    [{ logFormat: "xml" }],
    [{ debounce: "soon" }],
    [{ watchNamespaces: ["Not_A_Namespace"] }],
    [{ createServiceAccountAndRoleBinding: "yes" }],
    [{ "serviceAccount.name": "podlogreader-mine" }],
    [{ "serviceAccount.create": false }],
    [{ "image.digest": "latest" }],
    [{ extraArgs: ["workers=3"] }],
    [{ "audit.schedule": "hourly" }],
    [{ "audit.schedule": "60 * * * *" }],
    [{ unknownKey: true }],
  ])("%p", (values) => {
    expect(() => render("pl", "ops", values)).toThrow("helm template failed");
  });

  test.each([
    [{ global: { imageRegistry: "x" } }],
    [{ enabled: true }],
    [{ "audit.schedule": "@hourly" }],
    [{ "audit.schedule": "*/5 1-3 * JAN,feb mon-fri" }],
  ])("accepts %p", (values) => {
    expect(render("pl", "ops", values).length).toBeGreaterThan(0);
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
    const reviews = find<V1ClusterRole>(m, "ClusterRole", "pl-podlogreader:audit-reviews")[0]!;
    expect(permissions(reviews.rules!)).toEqual(["authorization.k8s.io/subjectaccessreviews:create"]);
    const reads = find<V1ClusterRole>(m, "ClusterRole", "pl-podlogreader:audit-reads")[0]!;
    expect(permissions(reads.rules!).every((p) => p.endsWith(":list"))).toBe(true);
  });

  test("with watched namespaces, one CronJob and one reading Role per namespace", () => {
    const m = render("pl", "ops", { audit: { enabled: true }, watchNamespaces: ["a", "b"] });
    expect(
      find(m, "CronJob")
        .map((j) => j.metadata.name)
        .sort(),
    ).toEqual(["pl-podlogreader-audit-a", "pl-podlogreader-audit-b"]);
    expect(
      find(m, "Role", "pl-podlogreader:audit-reads")
        .map((r) => r.metadata.namespace)
        .sort(),
    ).toEqual(["a", "b"]);
    expect(find(m, "ClusterRole", "pl-podlogreader:audit-reads")).toEqual([]);
  });
});

describe("helm test", () => {
  test("off by default; when on, a test hook Pod audits every watched namespace as the audit's ServiceAccount", () => {
    expect(find(render("pl", "ops"), "Pod")).toEqual([]);
    const m = render("pl", "ops", { "tests.enabled": true, watchNamespaces: ["a", "b"] });
    const [pod] = find<V1Pod>(m, "Pod");
    expect(pod!.metadata!.annotations).toMatchObject({ "helm.sh/hook": "test" });
    expect(pod!.spec!.serviceAccountName).toBe("pl-podlogreader-audit");
    expect(pod!.spec!.containers.map((c) => c.args)).toEqual([
      ["audit", "--output", "json", "--namespace", "a"],
      ["audit", "--output", "json", "--namespace", "b"],
    ]);
    expect(find(m, "CronJob")).toEqual([]);
  });
});

describe("grant policy", () => {
  const policy = (values: Record<string, unknown> = {}) =>
    render("pl", "ops", values).filter((o) => o.kind.startsWith("ValidatingAdmissionPolicy"));

  test(
    "on by default: a policy and its binding named as podlogreader grant looks for them, denying, failing closed, on grant " +
      "RoleBindings only",
    () => {
      const m = policy();
      expect(m.map((o) => [o.kind, o.metadata.name])).toEqual([
        ["ValidatingAdmissionPolicy", GRANT_POLICY_NAME],
        ["ValidatingAdmissionPolicyBinding", GRANT_POLICY_NAME],
      ]);
      const spec = m[0]!.spec as {
        failurePolicy: string;
        matchConstraints: object;
        matchConditions: { expression: string }[];
        validations: { message?: string }[];
      };
      expect(spec.failurePolicy).toBe("Fail");
      expect(spec.matchConstraints).toEqual({
        resourceRules: [
          { apiGroups: ["rbac.authorization.k8s.io"], apiVersions: ["*"], resources: ["rolebindings"], operations: ["CREATE", "UPDATE"] },
        ],
      });
      expect(spec.matchConditions[0]!.expression).toContain("'podlogreader.dev/grant' in object.metadata.labels");
      expect(spec.validations.map((v) => v.message).join("\n")).toContain("at most 168h after the grant is created");
      expect(m[1]!.spec).toEqual({ policyName: GRANT_POLICY_NAME, validationActions: ["Deny"] });
    },
  );

  test("maxDuration is the bound in the policy", () => {
    const spec = policy({ "grantPolicy.maxDuration": "12h" })[0]!.spec as { validations: { expression: string; message?: string }[] };
    expect(spec.validations.some((v) => v.expression.includes("duration('12h')") && v.message?.includes("at most 12h"))).toBe(true);
  });

  test("grantPolicy.enabled: false renders neither", () => {
    expect(policy({ "grantPolicy.enabled": false })).toEqual([]);
  });

  test.each([
    [{ "grantPolicy.maxDuration": "0s" }, "grantPolicy.maxDuration must be at least 1s"],
    [{ "grantPolicy.maxDuration": "-1h" }, "must not be negative"],
    [{ "grantPolicy.maxDuration": "7d" }, "/grantPolicy/maxDuration"],
  ])("refuses %j", (values, message) => {
    const r = template("pl", "ops", values);
    expect(r.ok ? "rendered" : r.error).toContain(message);
  });

  test("refuses to render on a cluster older than 1.30, which has no ValidatingAdmissionPolicy v1, unless it is off", () => {
    const old = runHelm(["template", "pl", chartDir, "--kube-version", "1.29.4"]);
    expect(old.status).not.toBe(0);
    expect(old.stderr).toContain("grantPolicy.enabled needs Kubernetes 1.30 or later");
    expect(runHelm(["template", "pl", chartDir, "--kube-version", "1.29.4", "--set", "grantPolicy.enabled=false"]).status).toBe(0);
  });
});

describe("cleanup on uninstall", () => {
  const hooks = (values: Record<string, unknown>) =>
    render("pl", "ops", values)
      .filter(isHook)
      .filter((o) => o.kind !== "Pod");

  test("a post-delete Job and its own ServiceAccount and RBAC, all deleted once it succeeds", () => {
    const h = hooks({});
    expect(h.map((o) => o.kind).sort()).toEqual(["ClusterRole", "ClusterRoleBinding", "Job", "Role", "RoleBinding", "ServiceAccount"]);
    for (const o of h)
      expect(o.metadata.annotations).toMatchObject({
        "helm.sh/hook": "post-delete",
        "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
      });
    const weight = (o: (typeof h)[number]) => Number(o.metadata.annotations!["helm.sh/hook-weight"]);
    const job = h.find((o) => o.kind === "Job")!;
    for (const o of h.filter((o) => o !== job)) expect(weight(o)).toBeLessThan(weight(job));
    const pod = (job as unknown as V1Job).spec!.template.spec!;
    expect(pod.serviceAccountName).toBe("pl-podlogreader-cleanup");
    expect(pod.containers[0]!.args).toEqual([
      "cleanup",
      "--all-namespaces",
      "--leader-election-namespace=ops",
      "--leader-election-id=pl-podlogreader",
      "--wait-for-lease=30s",
    ]);
    expect(permissions(find<V1ClusterRole>(h, "ClusterRole")[0]!.rules!).sort()).toEqual([
      "/serviceaccounts:delete",
      "/serviceaccounts:get",
      "/serviceaccounts:list",
      "rbac.authorization.k8s.io/rolebindings:delete",
      "rbac.authorization.k8s.io/rolebindings:get",
      "rbac.authorization.k8s.io/rolebindings:list",
      "rbac.authorization.k8s.io/roles:delete",
      "rbac.authorization.k8s.io/roles:get",
      "rbac.authorization.k8s.io/roles:list",
    ]);
    expect(find<V1Role>(h, "Role")[0]!.rules).toEqual([
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["pl-podlogreader"], verbs: ["get", "delete"] },
    ]);
  });

  test("with watched namespaces, its RBAC is a Role in each of them", () => {
    const h = hooks({ watchNamespaces: ["a", "b"] });
    expect(find(h, "ClusterRole")).toEqual([]);
    expect(
      find(h, "Role", "pl-podlogreader:cleanup")
        .map((r) => r.metadata.namespace)
        .sort(),
    ).toEqual(["a", "b"]);
    const job = find<V1Job>(h, "Job")[0]!;
    expect(job.spec!.template.spec!.containers[0]!.args).toEqual([
      "cleanup",
      "--namespace=a",
      "--namespace=b",
      "--leader-election-namespace=ops",
      "--leader-election-id=pl-podlogreader",
      "--wait-for-lease=30s",
    ]);
  });

  test("cleanupOnUninstall: false makes no hook", () => {
    expect(hooks({ cleanupOnUninstall: false })).toEqual([]);
  });
});

/** The metric names agreed for the controller's /metrics; dashboards and alerts may use no other. */
const METRICS = new Set([
  "controller_runtime_reconcile_total",
  "controller_runtime_reconcile_errors_total",
  "controller_runtime_reconcile_time_seconds",
  "controller_runtime_active_workers",
  "controller_runtime_max_concurrent_reconciles",
  "workqueue_depth",
  "workqueue_adds_total",
  "workqueue_queue_duration_seconds",
  "workqueue_work_duration_seconds",
  "workqueue_retries_total",
  "workqueue_unfinished_work_seconds",
  "workqueue_longest_running_processor_seconds",
  "rest_client_requests_total",
  "leader_election_master_status",
  "podlogreader_build_info",
  "podlogreader_role_writes_refused_total",
  "podlogreader_pods_left_out",
  "podlogreader_watch_restarts_total",
  "podlogreader_watch_failing",
  "podlogreader_object_writes_total",
  "podlogreader_managed_workloads",
  "podlogreader_tracked_pods",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
]);
const PROMQL_WORDS = new Set([
  "sum",
  "max",
  "min",
  "avg",
  "count",
  "rate",
  "increase",
  "histogram_quantile",
  "vector",
  "absent",
  "label_values",
  "by",
  "without",
  "or",
  "and",
  "unless",
  "on",
  "ignoring",
  "bool",
]);

/** The metrics a PromQL expression reads: names left once strings, label matchers, ranges, groupings and functions are taken out. */
function metricsIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without)\s*\([^)]*\)/g, " ");
  const names = [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((x) => x[0]).filter((w) => !PROMQL_WORDS.has(w));
  return names.map((n) => n.replace(/_(bucket|sum|count)$/, (s) => (METRICS.has(n) ? s : "")));
}

describe("monitoring", () => {
  test("the Grafana dashboard is valid JSON in a ConfigMap Grafana's sidecar picks, and queries only the agreed metrics", () => {
    expect(find(render("pl", "ops"), "ConfigMap")).toEqual([]);
    const [cm] = find<V1ConfigMap>(render("pl", "ops", { "grafanaDashboard.enabled": true }), "ConfigMap");
    expect(cm!.metadata!.labels).toMatchObject({ grafana_dashboard: "1" });
    const dashboard = JSON.parse(cm!.data!["podlogreader.json"]!) as { panels: { targets: { expr: string }[] }[] };
    expect(dashboard).toEqual(JSON.parse(readFileSync(join(chartDir, "dashboards/podlogreader.json"), "utf8")));
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const used = exprs.flatMap(metricsIn);
    expect(used.filter((n) => !METRICS.has(n))).toEqual([]);
    for (const needed of [
      "controller_runtime_reconcile_errors_total",
      "leader_election_master_status",
      "podlogreader_watch_failing",
      "podlogreader_role_writes_refused_total",
    ])
      expect(used).toContain(needed);
  });

  test(
    "the PrometheusRule alerts on reconcile errors, refused Role " + "writes, no leader and a failing watch, with agreed metrics only",
    () => {
      expect(find(render("pl", "ops"), "PrometheusRule")).toEqual([]);
      const [rule] = find<{ spec: { groups: { rules: { alert: string; expr: string }[] }[] } }>(
        render("pl", "ops", { "prometheusRule.enabled": true }),
        "PrometheusRule",
      );
      const rules = rule!.spec.groups.flatMap((g) => g.rules);
      expect(rules.map((r) => r.alert)).toEqual([
        "PodlogreaderReconcileErrors",
        "PodlogreaderRoleWritesRefused",
        "PodlogreaderNoLeader",
        "PodlogreaderWatchFailing",
      ]);
      const used = rules.map((r) => metricsIn(r.expr));
      expect(used).toEqual([
        ["controller_runtime_reconcile_errors_total"],
        ["podlogreader_role_writes_refused_total"],
        ["leader_election_master_status"],
        ["podlogreader_watch_failing"],
      ]);
      expect(rules[2]!.expr).toContain('name="pl-podlogreader"');
    },
  );

  test("metricsIn finds what an expression reads (a check of the checker)", () => {
    expect(metricsIn('sum by (le) (rate(foo_seconds_bucket{a="b{c}"}[5m])) or vector(0)')).toEqual(["foo_seconds"]);
    expect(metricsIn("histogram_quantile(0.9, sum by (le) (rate(controller_runtime_reconcile_time_seconds_bucket[1m])))")).toEqual([
      "controller_runtime_reconcile_time_seconds",
    ]);
  });
});

test("Chart.yaml names the Kubernetes versions, home, sources, and carries chart/icon.svg inline", () => {
  const chart = Bun.YAML.parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as {
    kubeVersion: string;
    home: string;
    sources: string[];
    icon: string;
  };
  expect(chart.kubeVersion).toBe(">=1.21.0-0");
  expect(chart.home).toStartWith("https://");
  expect(chart.sources.length).toBeGreaterThan(0);
  expect(chart.icon).toBe(`data:image/svg+xml;base64,${readFileSync(join(chartDir, "icon.svg")).toString("base64")}`);
  const lowest = runHelm(["template", "pl", chartDir, "--kube-version", "1.20.15"]);
  expect(lowest.stderr).toContain("incompatible with Kubernetes v1.20.15");
});
