// The audit's report for people and machines; how its reviews are limited and retried.
import { describe, expect, test } from "bun:test";
import { podListRequests, type AuditReport } from "../../../../src/admin/audit.ts";
import { finding } from "../../../../src/admin/audit/findings.ts";
import { auditJson, auditTable } from "../../../../src/admin/audit/format.ts";
import { limiter } from "../../../../src/util/limit.ts";
import { retrying } from "../../../../src/kube/retry.ts";
import { ApiError, NetworkError } from "../../../../src/kube/transport.ts";
import { Backoff } from "../../../../src/util/backoff.ts";

const base = { namespace: "shop", serviceAccount: "podlogreader-web", workload: "Deployment/web", permission: "get pods/log" };
const entry = {
  namespace: "shop",
  workload: "Deployment/web",
  serviceAccount: "podlogreader-web",
  pods: ["a", "b"],
  roleNames: ["a", "b", "gone"],
  readable: ["a", "b"],
  overGrants: [],
  underGrants: [],
  namespaceWide: false,
};

describe("the audit report", () => {
  const findings = [
    finding({ ...base, kind: "stale-name", source: "role", scope: "shop", resourceName: "gone", grantedBy: [] }),
    finding({ ...base, kind: "cross-namespace", source: "authorizer", scope: "billing", grantedBy: ["RoleBinding billing/x (Role r)"] }),
    finding({ ...base, kind: "missing-name", source: "authorizer", scope: "shop", resourceName: "b", grantedBy: [] }),
  ];
  const report: AuditReport = { ok: false, entries: [entry], findings, overGrants: 2, underGrants: 1, reviews: 40 };

  test("a finding knows whether it is an over-grant, from its kind", () => {
    expect(findings.map((f) => [f.kind, f.overGrant])).toEqual([
      ["stale-name", true],
      ["cross-namespace", true],
      ["missing-name", false],
    ]);
    expect(findings[1]!.message).toBe(
      "shop/podlogreader-web can read pod logs in namespace billing, granted by RoleBinding billing/x (Role r)",
    );
    expect(
      finding({ ...base, kind: "other-path", source: "authorizer", permission: "get nodes/proxy", scope: "", grantedBy: [] }).message,
    ).toBe("shop/podlogreader-web may get nodes/proxy cluster-wide, granted by no RBAC binding the audit could read");
    const deployer = finding({
      ...base,
      kind: "other-identity",
      source: "authorizer",
      permission: "create pods",
      scope: "shop",
      grantedBy: ["RoleBinding shop/deployer (Role deployer)"],
    });
    expect([deployer.overGrant, deployer.message]).toEqual([
      true,
      "shop/podlogreader-web may create pods in namespace shop, granted by RoleBinding shop/deployer (Role deployer): it can act " +
        "as another identity",
    ]);
  });

  test("the table counts findings per ServiceAccount and lists each with its kind", () => {
    const lines = auditTable(report).split("\n");
    expect(lines[1]).toMatch(/^shop\s+Deployment\/web\s+podlogreader-web\s+2\s+2\s+2\s+1\s+OVER-GRANT$/);
    expect(lines).toContain(
      "OVER-GRANT   stale-name       the Role of shop/podlogreader-web names pod gone, which does not exist: a pod created with " +
        "that name would be readable",
    );
    expect(lines).toContain("under-grant  missing-name     shop/podlogreader-web cannot read the logs of Deployment/web's pod b");
    expect(lines.at(-1)).toBe("1 ServiceAccount(s) checked with 40 access review(s): 2 over-grant(s), 1 under-grant(s).");
  });

  test("the JSON keeps a top-level ok", () => {
    expect(JSON.parse(auditJson(report))).toMatchObject({
      ok: false,
      overGrants: 2,
      findings: [{ kind: "stale-name" }, { kind: "cross-namespace" }, { kind: "missing-name" }],
    });
  });
});

test("the limiter never runs more than n tasks at once, and runs them all", async () => {
  const limit = limiter(3);
  let running = 0;
  let peak = 0;
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      limit(async () => {
        running++;
        peak = Math.max(peak, running);
        await Bun.sleep(1);
        running--;
        return i;
      }),
    ),
  );
  expect(peak).toBe(3);
  expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
});

test("reviews are asked again after throttling or a server error, and never after a refusal", async () => {
  const fast = () => new Backoff(1, 1);
  let calls = 0;
  const flaky = () => {
    calls++;
    if (calls < 3) return Promise.reject(new ApiError("POST", "/x", calls === 1 ? 429 : 503, undefined, "busy"));
    return Promise.resolve("ok");
  };
  expect(await retrying(flaky, 5, fast())).toBe("ok");
  expect(calls).toBe(3);
  calls = 0;
  const refused = () => {
    calls++;
    return Promise.reject(new ApiError("POST", "/x", 403, "Forbidden", "no"));
  };
  await expect(retrying(refused, 5, fast())).rejects.toThrow("403");
  expect(calls).toBe(1);
  calls = 0;
  await expect(
    retrying(
      () => {
        calls++;
        return Promise.reject(new NetworkError("reset"));
      },
      3,
      fast(),
    ),
  ).rejects.toThrow("reset");
  expect(calls).toBe(3);
});

describe("lists of pods beyond the workload's (--role-pod-names=none leaves which pods to the webhook)", () => {
  test("asked about: every pod of the namespace, and the opt-in label alone, which is no workload's selector", () => {
    expect(podListRequests("shop")).toEqual([
      { namespace: "shop", verb: "list", group: "", resource: "pods" },
      { namespace: "shop", verb: "list", group: "", resource: "pods", labelSelector: { "podlogreader-affiliate": "enable" } },
    ]);
  });

  test("an allowed one is an over-grant that names the list and the binding", () => {
    const f = finding({
      ...base,
      kind: "pod-list",
      source: "authorizer",
      permission: "list pods -l podlogreader-affiliate=enable",
      scope: "shop",
      grantedBy: ["RoleBinding shop/lister (Role lister)"],
    });
    expect(f.overGrant).toBe(true);
    expect(f.message).toBe(
      "shop/podlogreader-web may list pods -l podlogreader-affiliate=enable in namespace shop, beyond Deployment/web's pods, " +
        "granted by RoleBinding shop/lister (Role lister)",
    );
  });
});
