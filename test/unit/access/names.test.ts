import { describe, expect, test } from "bun:test";
import { managedName } from "../../../src/access/names.ts";

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const long = (n: number, ch = "a") => ch.repeat(n);

describe("managedName", () => {
  test.each([
    ["web", "podlogreader-web"],
    ["api.v2", "podlogreader-api.v2"],
    [long(240), `podlogreader-${long(240)}`],
  ])("keeps podlogreader-<name> when it is a valid name: %s", (name, expected) => {
    expect(managedName("Deployment", name)).toBe(expected);
  });

  test.each([241, 250, 253])("shortens a %i-character name to a valid 253-character name with a hash", (n) => {
    const name = managedName("Deployment", long(n));
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name).toMatch(dns1123Subdomain);
    expect(name.startsWith("podlogreader-hashed-aaaa")).toBe(true);
    expect(name).toMatch(/-[0-9a-f]{10}$/);
  });

  test("is deterministic", () => {
    expect(managedName("Deployment", long(253))).toBe(managedName("Deployment", long(253)));
  });

  test("gives distinct long names that share a prefix distinct results", () => {
    const a = managedName("Deployment", `${long(245)}-one`);
    const b = managedName("Deployment", `${long(245)}-two`);
    expect(a).not.toBe(b);
  });

  test("a Deployment named like another's shortened name does not get that name", () => {
    // A 250-character Deployment gets podlogreader-hashed-<cut>-<hash>. A second Deployment named
    // hashed-<cut>-<hash> would have asked for the same name; it gets podlogreader-deploy-... .
    const shortened = managedName("Deployment", long(250));
    const impostor = shortened.slice("podlogreader-".length);
    expect(managedName("Deployment", impostor)).not.toBe(shortened);
    expect(managedName("Deployment", impostor).startsWith("podlogreader-hashed-deploy-hashed-")).toBe(true);
    expect(managedName("Deployment", "hashed-web")).toBe("podlogreader-deploy-hashed-web");
    // And before names were marked as shortened, the tail alone (<cut>-<hash>) was the clash.
    const tail = impostor.slice("hashed-".length);
    expect(managedName("Deployment", tail)).not.toBe(shortened);
  });

  test("never ends the kept part with '-' or '.' before the hash", () => {
    const name = managedName("Deployment", `${long(238)}.-${long(20)}`.replace(".-", ".b-").slice(0, 253));
    expect(name).toMatch(dns1123Subdomain);
    const dotted = managedName("Deployment", `${long(228)}.${long(30)}`.slice(0, 253));
    expect(dotted).toMatch(dns1123Subdomain);
  });
});

describe("names of the other kinds", () => {
  test.each([
    ["Deployment", "web", "podlogreader-web"],
    ["StatefulSet", "web", "podlogreader-sts-web"],
    ["DaemonSet", "web", "podlogreader-ds-web"],
    ["ReplicaSet", "web", "podlogreader-rs-web"],
    ["Job", "web", "podlogreader-job-web"],
    ["CronJob", "web", "podlogreader-cronjob-web"],
  ] as const)("a %s called %s gets %s", (kind, name, expected) => {
    expect(managedName(kind, name)).toBe(expected);
  });

  test.each([
    ["sts-web", "podlogreader-deploy-sts-web"],
    ["ds-agent", "podlogreader-deploy-ds-agent"],
    ["rs-1", "podlogreader-deploy-rs-1"],
    ["job-runner", "podlogreader-deploy-job-runner"],
    ["cronjob-x", "podlogreader-deploy-cronjob-x"],
    ["deploy-api", "podlogreader-deploy-deploy-api"],
    ["sts", "podlogreader-sts"],
    ["sts.web", "podlogreader-sts.web"],
    ["stsweb", "podlogreader-stsweb"],
    ["deployer", "podlogreader-deployer"],
    ["jobs-api", "podlogreader-jobs-api"],
    ["web-sts-1", "podlogreader-web-sts-1"],
  ])("a Deployment called %s gets %s: `deploy-` comes first exactly when the name begins with a kind infix and '-'", (name, expected) => {
    expect(managedName("Deployment", name)).toBe(expected);
  });

  test.each([
    ["Deployment", "sts-web", "StatefulSet", "web"],
    ["Deployment", "ds-web", "DaemonSet", "web"],
    ["Deployment", "rs-web", "ReplicaSet", "web"],
    ["Deployment", "job-web", "Job", "web"],
    ["Deployment", "cronjob-web", "CronJob", "web"],
    ["Deployment", "deploy-sts-web", "Deployment", "sts-web"],
    ["Deployment", "deploy-web", "Deployment", "web"],
    ["Job", "cronjob-web", "CronJob", "job-web"],
  ] as const)("a %s %s and a %s %s get different names", (k1, n1, k2, n2) => {
    expect(managedName(k1, n1)).not.toBe(managedName(k2, n2));
  });

  test("a long Deployment name that begins with an infix keeps `deploy-` in its shortened name", () => {
    const name = managedName("Deployment", `sts-${long(249)}`);
    expect(name.length).toBe(253);
    expect(name).toMatch(dns1123Subdomain);
    expect(name.startsWith("podlogreader-hashed-deploy-sts-aaaa")).toBe(true);
    expect(name).not.toBe(managedName("StatefulSet", long(249)));
  });

  test("workloads of different kinds with the same name never share a name, even when shortened", () => {
    for (const name of ["web", long(253)]) {
      const names = (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"] as const).map((k) => managedName(k, name));
      expect(new Set(names).size).toBe(6);
      for (const n of names) expect(n).toMatch(dns1123Subdomain);
    }
  });
});
