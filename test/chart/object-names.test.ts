// Object names of the chart, for any release name, nameOverride, fullnameOverride and watched
// namespaces: within their kind's limit, unique, and never a name the controller keeps for a
// workload (podlogreader-<...>: src/access/names.ts), so neither can take over the other's objects.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { subdomain } from "../support/arbitraries.ts";
import { EVERYTHING_ON, template, parseManifests, type Manifest } from "../support/chart.ts";
import { NAME_PREFIX } from "../../src/access/names.ts";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const RBAC = new Set(["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]);
/** Kinds the controller also creates, in any namespace it watches. */
const MANAGED_KINDS = new Set(["Role", "RoleBinding", "ServiceAccount"]);

/** Managed names are podlogreader- and a workload's name (a DNS-1123 subdomain), or a cut of it. */
const mayBeManaged = (name: string) => name.startsWith(NAME_PREFIX) && DNS_SUBDOMAIN.test(name);

/** The longest name each kind may have (CronJob: its Jobs' names add 11 characters). */
function limit(kind: string): number {
  if (RBAC.has(kind)) return 253;
  if (kind === "CronJob") return 52;
  return 63;
}

/** Every rule a name breaks, as sentences; none for a good one. */
function nameProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const m of manifests) {
    const { kind } = m;
    const { name, namespace = "" } = m.metadata;
    const where = `${kind} ${namespace}/${name}`;
    // YAML reads an unquoted 0 or 1e3 as a number, which the apiserver refuses as a name.
    if (typeof name !== "string" || typeof namespace !== "string") {
      problems.push(`${where}: not a string`);
      continue;
    }
    if (name.length > limit(kind)) problems.push(`${where}: longer than ${limit(kind)}`);
    if (/[-.]$/.test(name)) problems.push(`${where}: ends in '-' or '.'`);
    if (RBAC.has(kind)) {
      if (/[/%]/.test(name) || !name.includes(":")) problems.push(`${where}: not a chart RBAC name`);
    } else if (kind === "Service") {
      if (!DNS_LABEL.test(name)) problems.push(`${where}: not a DNS-1123 label`);
    } else if (!DNS_SUBDOMAIN.test(name)) problems.push(`${where}: not a DNS-1123 subdomain`);
    if (MANAGED_KINDS.has(kind) && mayBeManaged(name)) problems.push(`${where}: a name the controller may keep for a workload`);
    const key = `${kind}/${namespace}/${name}`;
    if (seen.has(key)) problems.push(`${where}: twice`);
    seen.add(key);
    for (const [k, v] of Object.entries(m.metadata.labels ?? {})) {
      if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) problems.push(`${where}: label ${k}=${v} is not a label value`);
    }
  }
  return problems;
}

/** The Lease the controller is told to use, and the names the RBAC grants on Leases. */
function leaseNames(manifests: Manifest[]): { arg: string; granted: string[] } {
  const deployment = manifests.find((m) => m.kind === "Deployment") as unknown as {
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  };
  const arg = deployment.spec.template.spec.containers[0]!.args.find((a) => a.startsWith("--leader-election-id="))!.slice(
    "--leader-election-id=".length,
  );
  const granted = manifests
    .filter((m) => m.kind === "Role")
    .flatMap((m) => (m as unknown as { rules: { resources: string[]; resourceNames?: string[] }[] }).rules)
    .filter((r) => r.resources.includes("leases") && r.resourceNames)
    .flatMap((r) => r.resourceNames!);
  return { arg, granted };
}

/** Release names as helm accepts them (DNS-1123 subdomains of at most 53), often around the chart's name. */
const releaseName = fc.oneof(
  subdomain(53),
  fc.constantFrom(
    "0",
    "1e3",
    "true",
    "podlogreader",
    "podlogreader-prod",
    "podlogreader--x",
    "podlogreader.x",
    "my-podlogreader",
    "x",
    "0",
    "audit",
    "a".repeat(53),
    `podlogreader-${"x".repeat(40)}`,
  ),
  fc
    .tuple(fc.constantFrom("podlogreader-", "podlogreader", "x-podlogreader-"), subdomain(40))
    .map(([a, b]) => `${a}${b}`.slice(0, 53).replace(/[-.]+$/, "")),
);
const label = (max: number) => subdomain(max).map((s) => s.replaceAll(".", "-"));
/** Namespaces, long and alike: the first 40 or 55 characters shared, or all 63 used. */
const namespaces = fc.oneof(
  fc.uniqueArray(label(63), { maxLength: 3 }),
  fc
    .tuple(fc.constantFrom(40, 55), label(63))
    .map(([n, tail]) => [..."abc"].map((c) => `${"n".repeat(n)}${c}${tail}`.slice(0, 63).replace(/-+$/, "")))
    .map((l) => [...new Set(l)]),
  fc.constant(["n".repeat(63), `${"n".repeat(62)}m`]),
);
const values = fc.record({
  release: releaseName,
  namespace: fc.oneof(fc.constant("podlogreader"), label(63)),
  nameOverride: fc.oneof(fc.constant(""), fc.constant("podlogreader"), label(63)),
  fullnameOverride: fc.oneof({ weight: 3, arbitrary: fc.constant("") }, fc.constantFrom("podlogreader", "podlogreader-x"), subdomain(253)),
  watchNamespaces: namespaces,
});

describe("chart object names", () => {
  test("for any release, overrides and watched namespaces: within limits, unique, valid, and outside podlogreader's own names", () => {
    let rendered = 0;
    fc.assert(
      fc.property(values, (v) => {
        const r = template(v.release, v.namespace, {
          ...EVERYTHING_ON,
          nameOverride: v.nameOverride,
          fullnameOverride: v.fullnameOverride,
          watchNamespaces: v.watchNamespaces,
          replicaCount: 2,
        });
        if (!r.ok) throw new Error(r.error);
        const manifests = parseManifests(r.yaml);
        rendered++;
        const problems = nameProblems(manifests);
        if (problems.length) throw new Error(problems.join("\n"));
        const { arg, granted } = leaseNames(manifests);
        expect(arg.length).toBeLessThanOrEqual(63);
        expect(granted.length).toBe(2);
        for (const g of granted) expect(g).toBe(arg);
      }),
      { numRuns: 150 },
    );
    expect(rendered).toBe(150);
  });

  test("the checker finds each kind of bad name (a check of the checker)", () => {
    const m = (kind: string, name: string, namespace = "ns", labels: Record<string, string> = {}): Manifest => ({
      apiVersion: "v1",
      kind,
      metadata: { name, namespace, labels },
    });
    expect(nameProblems([m("CronJob", "c".repeat(53))])).toHaveLength(1);
    expect(nameProblems([m("Service", "s".repeat(64))])).toHaveLength(1);
    expect(nameProblems([m("Deployment", "d-")])).toHaveLength(2);
    expect(nameProblems([m("Service", "a.b")])).toHaveLength(1);
    expect(nameProblems([m("Role", "podlogreader-x")])).toHaveLength(2);
    expect(nameProblems([m("ServiceAccount", "podlogreader-audit")])).toHaveLength(1);
    expect(nameProblems([m("Deployment", "x"), m("Deployment", "x")])).toHaveLength(1);
    expect(nameProblems([m("Deployment", "x", "ns", { a: "-x" })])).toHaveLength(1);
    expect(nameProblems([m("Deployment", 0 as unknown as string)])).toHaveLength(1);
    expect(
      nameProblems([m("Deployment", "x"), m("Role", "x:y"), m("Role", "podlogreader-x:y"), m("ServiceAccount", "podlogreader.sa-x")]),
    ).toEqual([]);
  });

  test("the reviewer's cases: 53-character releases, 63-character namespaces, namespaces alike in their first 40 characters", () => {
    const ns40 = "n".repeat(40);
    const r = template("r".repeat(53), "o".repeat(63), { ...EVERYTHING_ON, watchNamespaces: [`${ns40}-a`, `${ns40}-b`, "w".repeat(63)] });
    if (!r.ok) throw new Error(r.error);
    const m = parseManifests(r.yaml);
    expect(nameProblems(m)).toEqual([]);
    expect(m.filter((o) => o.kind === "CronJob")).toHaveLength(3);
  });

  test("release podlogreader: the ServiceAccounts are podlogreader, podlogreader.sa-audit, podlogreader.sa-cleanup", () => {
    const r = template("podlogreader", "podlogreader", EVERYTHING_ON);
    if (!r.ok) throw new Error(r.error);
    expect(
      parseManifests(r.yaml)
        .filter((o) => o.kind === "ServiceAccount")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["podlogreader", "podlogreader.sa-audit", "podlogreader.sa-cleanup"]);
  });
});
