// extraArgs cannot override the flags the chart sets from the values that decide what is granted
// and where the controller acts. The controller takes the last of a repeated flag and extraArgs
// come last, so `podVisibility: own` with `extraArgs: [--pod-visibility=namespace]` would run it
// namespace-wide while the values say `own`. Both values.schema.json and the templates (for
// `--skip-schema-validation`) refuse every spelling its parser reads, and say what to set instead.
import { describe, expect, test } from "bun:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { parseOptions, RUN_FLAGS, type Options } from "../../src/commands/run.ts";
import { find, helmTemplate, parseManifests } from "../support/chart.ts";

/** The refused flags, each with what the refusal says to set instead. */
const REFUSED: Record<string, string> = {
  "pod-visibility": "set podVisibility instead",
  "list-pods": "set podVisibility instead",
  "create-sa-and-rolebinding": "set createServiceAccountAndRoleBinding instead",
  namespace: "set watchNamespaces instead",
  "leader-elect": "the chart always runs leader election; set leaderElection instead",
  "leader-election-namespace": "the chart keeps the Lease in the release namespace",
  "leader-election-id": "the chart names the Lease after the release; set fullnameOverride instead",
  "leader-elect-lease-duration": "set leaderElection.leaseDuration instead",
  "leader-elect-renew-deadline": "set leaderElection.renewDeadline instead",
  "leader-elect-retry-period": "set leaderElection.retryPeriod instead",
  "authorizer-addr": "set authorizer.enabled and authorizer.port instead",
  "authorizer-tls-cert-file": "set authorizer.certificate instead",
  "authorizer-tls-key-file": "set authorizer.certificate instead",
  "authorizer-client-ca-file": "set authorizer.clientCA instead",
  "role-pod-names": "set authorizer.rolePodNames instead",
};

/** Flags the chart sets from values that only tune the controller or its own endpoints; extraArgs may repeat them. */
const TUNING = ["debounce", "resync", "log-level", "log-format", "metrics-bind-address", "health-probe-bind-address"];

/** A value each refused flag that takes one accepts, other than what the chart sets by default. */
const VALUE: Record<string, string> = {
  "pod-visibility": "namespace",
  namespace: "kube-system",
  "leader-election-namespace": "elsewhere",
  "leader-election-id": "elsewhere",
  "leader-elect-lease-duration": "30s",
  "leader-elect-renew-deadline": "5s",
  "leader-elect-retry-period": "3s",
  "authorizer-addr": ":9443",
  "authorizer-tls-cert-file": "/tmp/tls.crt",
  "authorizer-tls-key-file": "/tmp/tls.key",
  "authorizer-client-ca-file": "/tmp/ca.crt",
  "role-pod-names": "none",
};

/** The authorizer on, so that the chart sets its flags too. */
const AUTHORIZER_ON = { "authorizer.enabled": true, "authorizer.clientCA.existingSecret": "apiserver-webhook-ca" };

const runFlag = (name: string) => Object.values(RUN_FLAGS).find((f) => f.name === name)!;

/**
 * Every way the controller's parser (src/cli/flags.ts) reads the flag: --NAME[=true|false] for a bool, --NAME=V and --NAME V otherwise, -S
 * V for a short form.
 */
function spellings(name: string): string[][] {
  const f = runFlag(name);
  if (f.kind === "bool") return [[`--${name}`], [`--${name}=true`], [`--${name}=false`]];
  const value = VALUE[name]!;
  return [[`--${name}=${value}`], [`--${name}`, value], ...(f.short ? [[`-${f.short}`, value]] : [])];
}

function controllerArgs(values: Record<string, unknown> = {}): string[] {
  const r = helmTemplate(values, true);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return find<V1Deployment>(parseManifests(r.stdout), "Deployment")[0]!.spec!.template.spec!.containers[0]!.args!;
}

const flagName = (arg: string) => arg.replace(/^--/, "").replace(/=.*/, "");

describe("extraArgs may not set a flag the chart sets from a value that decides access or scope", () => {
  const cases = Object.keys(REFUSED).flatMap((name) => spellings(name).map((extraArgs) => [extraArgs.join(" "), name, extraArgs] as const));

  test("the refused flags are exactly the chart's own flags but the tuning ones, and the deprecated alias of --pod-visibility", () => {
    const set = new Set(controllerArgs({ watchNamespaces: ["a"], ...AUTHORIZER_ON }).map(flagName));
    expect([...set].filter((f) => !TUNING.includes(f)).sort()).toEqual(
      Object.keys(REFUSED)
        .filter((f) => f !== "list-pods")
        .sort(),
    );
    expect(runFlag("list-pods").help).toContain("--list-pods=true is --pod-visibility=namespace");
    for (const name of Object.keys(REFUSED)) expect(runFlag(name)).toBeDefined();
  });

  test.each([
    [["--pod-visibility=namespace"], "podVisibility", "namespace"],
    [["--pod-visibility", "namespace"], "podVisibility", "namespace"],
    [["--create-sa-and-rolebinding"], "createServiceAccountAndRoleBinding", true],
    [["--create-sa-and-rolebinding=true"], "createServiceAccountAndRoleBinding", true],
    [["--namespace=kube-system"], "namespaces", ["a", "kube-system"]],
    [["--namespace", "kube-system"], "namespaces", ["a", "kube-system"]],
    [["-n", "kube-system"], "namespaces", ["a", "kube-system"]],
    [["--leader-elect=false"], "leaderElect", false],
    [["--leader-election-namespace=elsewhere"], "leaderElectionNamespace", "elsewhere"],
    [["--leader-election-id", "elsewhere"], "leaderElectionId", "elsewhere"],
    [["--leader-elect-lease-duration=30s"], "leaseDurationMs", 30_000],
    [["--leader-elect-renew-deadline", "5s"], "renewDeadlineMs", 5_000],
    [["--leader-elect-retry-period=3s"], "retryPeriodMs", 3_000],
    [["--authorizer-addr=:9443"], "authorizerAddr", { host: "", port: 9443 }],
    [["--authorizer-tls-cert-file", "/tmp/tls.crt"], "authorizerTlsCertFile", "/tmp/tls.crt"],
    [["--authorizer-tls-key-file=/tmp/tls.key"], "authorizerTlsKeyFile", "/tmp/tls.key"],
    [["--authorizer-client-ca-file=/tmp/ca.crt"], "authorizerClientCaFile", "/tmp/ca.crt"],
    [["--role-pod-names=none"], "rolePodNames", "none"],
  ] as [string[], keyof Options, unknown][])(
    "the controller's parser lets %p after the chart's flags change %s",
    (extra, option, value) => {
      const chart = controllerArgs({ watchNamespaces: ["a"], ...AUTHORIZER_ON });
      const read = (argv: string[]): unknown => parseOptions(argv)[option];
      expect(read(chart)).not.toEqual(value);
      expect(read([...chart, ...extra])).toEqual(value);
    },
  );

  test.each(cases)("%p is refused, with and without the schema, naming what to set instead", (_, name, extraArgs) => {
    for (const schema of [true, false]) {
      const r = helmTemplate({ extraArgs }, schema);
      expect({ schema, status: r.status }).toEqual({ schema, status: 1 });
      expect(r.stderr).toContain(`extraArgs must not set --${name}; ${REFUSED[name]}`);
    }
  });

  test("also after harmless flags, and whatever the values say", () => {
    for (const values of [
      { podVisibility: "own", extraArgs: ["--workers=8", "--pod-visibility=namespace"] },
      { podVisibility: "namespace", extraArgs: ["--pod-visibility=namespace"] },
    ]) {
      for (const schema of [true, false])
        expect(helmTemplate(values, schema).stderr).toContain("extraArgs must not set --pod-visibility; set podVisibility instead");
    }
  });
});

describe("other extraArgs still render", () => {
  test.each([[["--workers=8"]], [["--debounce=500ms"]], [["--workers=8", "--resync=1m", "--log-level=debug"]]])(
    "%p reach the controller after the chart's flags, and the controller takes them",
    (extraArgs) => {
      const args = controllerArgs({ extraArgs });
      expect(args.slice(-extraArgs.length)).toEqual(extraArgs);
      expect(() => parseOptions(args)).not.toThrow();
    },
  );
});
