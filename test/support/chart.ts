// Rendering the Helm chart with helm built from the pinned module (scripts/build-tool.sh).
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import type { V1ClusterRole, V1PolicyRule, V1Role } from "@kubernetes/client-node";
import { writeFileSync } from "node:fs";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import type { KubeApi } from "../../src/kube/api.ts";
import { ClusterRoleBindings, ClusterRoles, RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../../src/kube/resources.ts";
import { serviceAccountToken, testCluster } from "./cluster.ts";
import { type Background, type Finished, finish, podlogreaderInBackground } from "./process.ts";

const repo = resolve(import.meta.dir, "../..");
export const chartDir = resolve(repo, "chart");

let helmPath: string | undefined;
export function helm(): string {
  if (!helmPath) {
    const built = spawnSync("bash", [resolve(repo, "scripts/build-tool.sh"), "helm"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (built.status !== 0) throw new Error("scripts/build-tool.sh failed");
    helmPath = built.stdout.trim().split("\n").at(-1)!;
  }
  return helmPath;
}

export function runHelm(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(helm(), args, { encoding: "utf8" });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

/** The Kubernetes version charts are rendered for: the local control plane's. */
export const KUBE_VERSION = "1.37.2";

/** `--set-json` flags for a map of values (keys may be dotted paths). */
export function setFlags(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ["--set-json", `${k}=${JSON.stringify(v)}`]);
}

/** Splits a multi-document YAML stream into its objects. */
export function parseManifests(yaml: string): Manifest[] {
  return yaml
    .split(/^---$/m)
    .map((doc) => Bun.YAML.parse(doc) as Manifest | null)
    .filter((m): m is Manifest => m !== null && typeof m === "object" && "kind" in m);
}

/**
 * `helm template` of the release "pl" in the namespace "ops", as helm answers it; `values` become
 * --set-json flags. With `schema: false`, helm skips the values schema.
 */
export function helmTemplate(values: Record<string, unknown>, schema = true): { status: number; stdout: string; stderr: string } {
  const skip = schema ? [] : ["--skip-schema-validation"];
  return runHelm(["template", "pl", chartDir, "--namespace", "ops", "--kube-version", KUBE_VERSION, ...skip, ...setFlags(values)]);
}

/** `helm template` of a chart, as text, or the error helm gave. */
export function template(
  release: string,
  namespace: string,
  values: Record<string, unknown> = {},
  dir = chartDir,
): { ok: true; yaml: string } | { ok: false; error: string } {
  const r = runHelm(["template", release, dir, "--namespace", namespace, "--kube-version", KUBE_VERSION, ...setFlags(values)]);
  return r.status === 0 ? { ok: true, yaml: r.stdout } : { ok: false, error: r.stderr };
}

/** `helm template` of the chart, parsed; `values` become --set-json flags. */
export function render(release: string, namespace: string, values: Record<string, unknown> = {}): Manifest[] {
  const r = template(release, namespace, values);
  if (!r.ok) throw new Error(`helm template failed: ${r.error}`);
  return parseManifests(r.yaml);
}

/** Every optional part of the chart switched on. */
export const EVERYTHING_ON = {
  createServiceAccountAndRoleBinding: true,
  "audit.enabled": true,
  "tests.enabled": true,
  "serviceMonitor.enabled": true,
  "prometheusRule.enabled": true,
  "grafanaDashboard.enabled": true,
  cleanupOnUninstall: true,
};

/** The API type of each identity and RBAC kind the chart renders. */
export const RBAC_TYPES: Record<string, ResourceType> = {
  ServiceAccount: ServiceAccounts,
  ClusterRole: ClusterRoles,
  ClusterRoleBinding: ClusterRoleBindings,
  Role: Roles,
  RoleBinding: RoleBindings,
};

/** The rules with one "group/resource:verb" removed; a rule left without resources or verbs goes. */
export function withoutPermission(rules: V1PolicyRule[], permission: string): V1PolicyRule[] {
  const [groupResource, verb] = permission.split(":") as [string, string];
  const slash = groupResource.indexOf("/");
  const [group, resource] = [groupResource.slice(0, slash), groupResource.slice(slash + 1)];
  return rules.flatMap((r) => {
    if (!r.apiGroups?.includes(group) || !r.resources?.includes(resource) || !r.verbs.includes(verb)) return [r];
    const split: V1PolicyRule[] = [];
    const rest = r.resources.filter((x) => x !== resource);
    if (rest.length) split.push({ ...r, resources: rest });
    const verbs = r.verbs.filter((v) => v !== verb);
    if (verbs.length) split.push({ ...r, resources: [resource], verbs });
    return split;
  });
}

/**
 * Creates the identity and RBAC objects among `manifests` as `admin`, the namespaced ones in
 * `namespace`; the Role or ClusterRole named `removed.role` without `removed.permission`. Each
 * cluster-scoped object goes into `clusterScoped` as soon as it is made, for the caller to delete.
 */
export async function createRbac(
  admin: KubeApi,
  namespace: string,
  manifests: Manifest[],
  clusterScoped: [ResourceType, string][],
  removed?: { role: string; permission: string },
): Promise<void> {
  for (const m of manifests.filter((m) => m.kind in RBAC_TYPES)) {
    const obj: Manifest =
      removed && m.metadata.name === removed.role && m.kind.endsWith("Role")
        ? { ...m, rules: withoutPermission((m as unknown as V1Role).rules ?? [], removed.permission) }
        : m;
    const rt = RBAC_TYPES[m.kind]!;
    const namespaced = !m.kind.startsWith("Cluster");
    await admin.create(rt, namespaced ? namespace : undefined, obj);
    if (!namespaced) clusterScoped.push([rt, m.metadata.name]);
  }
}

/** The objects a helm hook makes, and the helm test Pod: not part of the installed release. */
export const isHook = (m: Manifest): boolean => Boolean(m.metadata.annotations?.["helm.sh/hook"]);

export function find<T = Manifest>(manifests: Manifest[], kind: string, name?: string): T[] {
  return manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name)) as T[];
}

/** Every (apiGroup, resource, verb) a set of rules grants, as "group/resource:verb". */
export function permissions(rules: V1PolicyRule[]): string[] {
  return rules.flatMap((r) =>
    (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`))),
  );
}

export type RoleLike = V1Role | V1ClusterRole;

/** helm against the local control plane as admin, with its config, cache and data under `home`. */
export async function helmOnCluster(args: string[], home: string): Promise<Finished> {
  const c = await testCluster();
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_DATA_HOME: join(home, "data"),
    KUBECONFIG: c.kubeconfig,
  };
  return finish([helm(), ...args], { env });
}

/** helmOnCluster that must exit 0; its standard output. */
export async function helmOk(args: string[], home: string): Promise<string> {
  const r = await helmOnCluster(args, home);
  if (r.code !== 0) throw new Error(`helm ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/** `helm install` or `helm upgrade` of the chart as `release` in `namespace`, waiting up to 120 s; its standard output. */
export function helmDeploy(verb: "install" | "upgrade", release: string, namespace: string, values: Record<string, unknown>, home: string) {
  return helmOk([verb, release, chartDir, "-n", namespace, "--wait", "--timeout", "120s", ...setFlags(values)], home);
}

/**
 * The chart's controller arguments for a process on this host, where the pod's ports may be taken: metrics and probes on free loopback
 * ports.
 */
export function hostArgs(chartArgs: string[]): string[] {
  return chartArgs.map((a) => (/^--(metrics|health-probe)-bind-address=/.test(a) ? a.replace(/=.*/, "=127.0.0.1:0") : a));
}

/** The binary running in the background as a ServiceAccount (see runAsServiceAccount). */
export type Running = Background;

/**
 * Runs the compiled binary with `args` as a ServiceAccount of the local cluster: a kubeconfig with
 * a real token of it (TokenRequest), so the apiserver authorizes exactly that ServiceAccount's RBAC,
 * as it does for a pod of it.
 */
export async function runAsServiceAccount(namespace: string, serviceAccount: string, args: string[]): Promise<Running> {
  const c = await testCluster();
  const token = await serviceAccountToken(namespace, serviceAccount);
  const kubeconfig = join(c.dir, `${serviceAccount}-${process.pid}-${Date.now()}.kubeconfig`);
  writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { token }, namespace), { mode: 0o600 });
  return podlogreaderInBackground(args, { kubeconfig });
}

/** Runs the binary as the ServiceAccount to completion; its exit code and output. */
export async function runToEnd(namespace: string, serviceAccount: string, args: string[]): Promise<{ status: number; log: string[] }> {
  const r = await runAsServiceAccount(namespace, serviceAccount, args);
  const status = await r.proc.exited;
  await r.stop();
  return { status, log: r.log };
}
