// Rendering the Helm chart with helm built from the pinned module (scripts/build-tool.sh).
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import type { V1ClusterRole, V1PolicyRule, V1Role } from "@kubernetes/client-node";

const repo = resolve(import.meta.dir, "../..");
export const chartDir = resolve(repo, "chart");

let helmPath: string | undefined;
export function helm(): string {
  if (!helmPath) {
    const built = spawnSync("bash", [resolve(repo, "scripts/build-tool.sh"), "helm"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
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
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

/** `helm template` of the chart, parsed; `values` become --set-json flags. */
export function render(release: string, namespace: string, values: Record<string, unknown> = {}): Manifest[] {
  const sets = Object.entries(values).flatMap(([k, v]) => ["--set-json", `${k}=${JSON.stringify(v)}`]);
  const r = runHelm(["template", release, chartDir, "--namespace", namespace, ...sets]);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return r.stdout
    .split(/^---$/m)
    .map((doc) => Bun.YAML.parse(doc) as Manifest | null)
    .filter((m): m is Manifest => m !== null && typeof m === "object" && "kind" in m);
}

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
