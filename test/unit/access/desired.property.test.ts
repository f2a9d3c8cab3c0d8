// What a workload's Role grants, as properties of desiredAccess and roleRules.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { V1PolicyRule } from "@kubernetes/client-node";
import { desiredAccess, roleRules, type AccessOptions } from "../../../src/access/desired.ts";
import type { Workload } from "../../../src/access/membership.ts";
import { managedName } from "../../../src/access/names.ts";
import { kind, subdomain, workloadName } from "../../support/arbitraries.ts";

const runs = { numRuns: 200 };

const workload: fc.Arbitrary<Pick<Workload, "kind" | "namespace" | "name" | "uid">> = fc.record({
  kind,
  namespace: fc.constantFrom("default", "shop", "kube-system"),
  name: workloadName,
  uid: fc.uuid(),
});
const options: fc.Arbitrary<AccessOptions> = fc.record({
  podVisibility: fc.constantFrom("own" as const, "namespace" as const),
  createServiceAccountAndRoleBinding: fc.boolean(),
});
/** Pod names as the membership index hands them over: any subdomain, possibly repeated, possibly none. */
const podNames = fc.array(fc.oneof(subdomain(), fc.constantFrom("web-0", "web-1", "p")), { maxLength: 12 });

const touchesPods = (r: V1PolicyRule) =>
  (r.resources ?? []).some((res) => res === "pods" || res === "pods/log" || res === "*" || res.startsWith("pods/"));
const namedPods = (rules: V1PolicyRule[]) => rules.filter(touchesPods).flatMap((r) => r.resourceNames ?? []);

describe("a Role grants the logs of exactly the pods it is given", () => {
  test("every rule that lets anyone get pods or their logs lists pod names: none is empty or missing", () => {
    fc.assert(
      fc.property(workload, podNames, options, (w, pods, opts) => {
        for (const rule of desiredAccess(w, pods, opts).role.rules) {
          if (!touchesPods(rule)) continue;
          // Seeing every pod (namespace visibility) is the one rule on pods without names; it never covers logs.
          if (opts.podVisibility === "namespace" && !rule.resources!.includes("pods/log") && rule.resources!.length === 1) continue;
          expect(rule.resourceNames?.length ?? 0).toBeGreaterThan(0);
        }
      }),
      runs,
    );
  });

  test("no rule on pods lacks resourceNames, except get, list and watch of pods in namespace visibility", () => {
    fc.assert(
      fc.property(workload, podNames, options, (w, pods, opts) => {
        const unnamed = roleRules(w, pods, opts).filter((r) => touchesPods(r) && !r.resourceNames?.length);
        expect(unnamed).toEqual(
          opts.podVisibility === "namespace" ? [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }] : [],
        );
      }),
      runs,
    );
  });

  test("neither visibility grants exec, attach, port-forward, or any write on pods", () => {
    fc.assert(
      fc.property(workload, podNames, options, (w, pods, opts) => {
        for (const rule of roleRules(w, pods, opts)) {
          for (const r of rule.resources ?? [])
            expect(["pods/exec", "pods/attach", "pods/portforward", "pods/proxy", "pods/ephemeralcontainers"]).not.toContain(r);
          for (const verb of rule.verbs) expect(["get", "list", "watch"]).toContain(verb);
        }
      }),
      runs,
    );
  });

  test("the pods named are exactly the pods given: none outside that set, none of them left out", () => {
    fc.assert(
      fc.property(workload, podNames, options, (w, pods, opts) => {
        const named = namedPods(desiredAccess(w, pods, opts).role.rules);
        for (const p of named) expect(pods).toContain(p);
        expect(new Set(named)).toEqual(new Set(pods));
      }),
      runs,
    );
  });

  test("pods/log is granted only by name; no rule uses a wildcard", () => {
    fc.assert(
      fc.property(workload, podNames, options, (w, pods, opts) => {
        for (const rule of roleRules(w, pods, opts)) {
          for (const field of [rule.apiGroups, rule.resources, rule.verbs, rule.resourceNames]) expect(field ?? []).not.toContain("*");
          if (rule.resources?.includes("pods/log")) expect(rule.resourceNames!.length).toBeGreaterThan(0);
        }
      }),
      runs,
    );
  });

  test("the other objects named are the workload, its own Role and a CronJob's Jobs, each only for get and by its own name", () => {
    const jobNames = fc.array(fc.constantFrom("nightly-1", "nightly-2", "other"), { maxLength: 3 });
    fc.assert(
      fc.property(workload, podNames, options, jobNames, (w, pods, opts, jobs) => {
        for (const rule of roleRules(w, pods, opts, jobs).filter((r) => !touchesPods(r))) {
          expect(rule.verbs).toEqual(["get"]);
          const [resource] = rule.resources ?? [];
          if (resource === "roles") expect(rule.resourceNames).toEqual([managedName(w.kind, w.name)]);
          else if (resource === "jobs" && w.kind === "CronJob") expect(new Set(rule.resourceNames)).toEqual(new Set(jobs));
          else expect(rule.resourceNames).toEqual([w.name]);
        }
      }),
      runs,
    );
  });

  test("the Role, ServiceAccount and RoleBinding live in the workload's namespace, and the binding names only that ServiceAccount", () => {
    fc.assert(
      fc.property(workload, podNames, options, (w, pods, opts) => {
        const { role, serviceAccount, roleBinding } = desiredAccess(w, pods, opts);
        for (const obj of [role, serviceAccount, roleBinding]) if (obj) expect(obj.metadata.namespace).toBe(w.namespace);
        expect(serviceAccount === undefined).toBe(!opts.createServiceAccountAndRoleBinding);
        if (roleBinding)
          expect(roleBinding.subjects).toEqual([{ kind: "ServiceAccount", name: role.metadata.name, namespace: w.namespace }]);
      }),
      runs,
    );
  });

  test("the same workload and pods give the same Role, whatever the order of the pods", () => {
    fc.assert(
      fc.property(workload, podNames, options, (w, pods, opts) => {
        expect(desiredAccess(w, [...pods].reverse(), opts)).toEqual(desiredAccess(w, pods, opts));
      }),
      runs,
    );
  });
});
