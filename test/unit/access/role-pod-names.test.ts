// --role-pod-names=none: the Role names no pod; what it still grants, as properties of desiredAccess.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { desiredAccess } from "../../../src/access/desired.ts";
import { KINDS } from "../../../src/access/kinds.ts";
import { managedName } from "../../../src/access/names.ts";
import { parseOptions } from "../../../src/commands/run.ts";
import { kind, subdomain, workloadName } from "../../support/arbitraries.ts";

const workload = fc.record({ kind, namespace: fc.constant("ns"), name: workloadName, uid: fc.uuid() });
const podNames = fc.array(subdomain(), { maxLength: 8 });

describe("--role-pod-names=none", () => {
  test("no rule grants a pod's log, none has an empty resourceNames, and pods are seen only as --pod-visibility says", () => {
    fc.assert(
      fc.property(
        workload,
        podNames,
        fc.array(subdomain(), { maxLength: 3 }),
        fc.constantFrom("own" as const, "namespace" as const),
        (w, pods, jobs, podVisibility) => {
          const { role, podsLeftOut } = desiredAccess(
            w,
            pods,
            { podVisibility, createServiceAccountAndRoleBinding: true, rolePodNames: "none" },
            jobs,
          );
          expect(podsLeftOut).toEqual([]);
          for (const rule of role.rules) {
            expect(rule.resources).not.toContain("pods/log");
            if (rule.resourceNames) expect(rule.resourceNames.length).toBeGreaterThan(0);
            if (rule.resources?.includes("pods"))
              expect({ podVisibility, names: rule.resourceNames }).toEqual({ podVisibility: "namespace", names: undefined });
          }
          expect(role.rules).toContainEqual({
            apiGroups: ["rbac.authorization.k8s.io"],
            resources: ["roles"],
            verbs: ["get"],
            resourceNames: [managedName(w.kind, w.name)],
          });
          if (KINDS[w.kind].kubectlLogs)
            expect(role.rules).toContainEqual({
              apiGroups: [KINDS[w.kind].resource.group],
              resources: [KINDS[w.kind].resource.plural],
              verbs: ["get"],
              resourceNames: [w.name],
            });
        },
      ),
    );
  });

  test("names is the default, and the same Role as before the flag", () => {
    expect(parseOptions([]).rolePodNames).toBe("names");
    expect(() => parseOptions(["--role-pod-names=some"])).toThrow("--role-pod-names must be names or none");
    const w = { kind: "Deployment" as const, namespace: "ns", name: "web", uid: "u" };
    const opts = { podVisibility: "own" as const, createServiceAccountAndRoleBinding: false };
    expect(desiredAccess(w, ["web-1"], { ...opts, rolePodNames: "names" })).toEqual(desiredAccess(w, ["web-1"], opts));
    expect(desiredAccess(w, ["web-1"], opts).role.rules[0]).toMatchObject({ resources: ["pods", "pods/log"], resourceNames: ["web-1"] });
  });
});

describe("the authorizer's flags", () => {
  test("--authorizer-addr needs its certificate, key and client CA, and they need it", () => {
    const files = ["--authorizer-tls-cert-file=c", "--authorizer-tls-key-file=k", "--authorizer-client-ca-file=ca"];
    expect(parseOptions(["--authorizer-addr=:8443", ...files]).authorizerAddr).toEqual({ host: "", port: 8443 });
    for (const f of files) {
      const name = f.slice(2, f.indexOf("="));
      expect(() => parseOptions(["--authorizer-addr=:8443", ...files.filter((x) => x !== f)])).toThrow(`--authorizer-addr needs --${name}`);
      expect(() => parseOptions([f])).toThrow(`--${name} is only used with --authorizer-addr`);
    }
  });
});
