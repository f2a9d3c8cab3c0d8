// The pure parts of `podlogreader logs`: flags, which pods a Role names, which containers to
// read, how lines are printed, and how a failed log request is handled.
import { describe, expect, test } from "bun:test";
import type { V1Pod, V1Role } from "@kubernetes/client-node";
import { UsageError } from "../../src/cli/flags.ts";
import { ApiError } from "../../src/kube/transport.ts";
import { containersToRead } from "../../src/logs/containers.ts";
import { linePrefix, splitTimestamp, timestampNanos, useColour } from "../../src/logs/format.ts";
import { grantedPods } from "../../src/logs/grant.ts";
import { LOGS_FLAGS, logsHelp, parseLogsArgs } from "../../src/logs/options.ts";
import { classifyFailure, type Failure } from "../../src/logs/stream.ts";

describe("parseLogsArgs", () => {
  test("KIND/NAME with defaults: current pods once, all lines, default container", () => {
    expect(parseLogsArgs(["deploy/web"])).toEqual({
      kind: "Deployment", name: "web", namespace: undefined, kubeconfig: undefined, context: undefined, follow: false,
      sinceSeconds: undefined, tailLines: undefined, timestamps: false, container: undefined, allContainers: false, previous: false,
    });
  });

  test("every flag, short and long", () => {
    expect(parseLogsArgs(["cronjob/nightly", "-n", "team", "-f", "--since=2m", "--tail", "20", "--timestamps", "-c", "app", "-p", "--kubeconfig", "/k", "--context", "ops"])).toMatchObject({
      kind: "CronJob", name: "nightly", namespace: "team", follow: true, sinceSeconds: 120, tailLines: 20, timestamps: true, container: "app", previous: true, kubeconfig: "/k", context: "ops",
    });
    expect(parseLogsArgs(["sts/db", "--all-containers", "--follow=false"])).toMatchObject({ kind: "StatefulSet", allContainers: true, follow: false });
  });

  test.each([
    [[], "logs needs a workload"],
    [["pod/x"], "is not KIND/NAME"],
    [["deploy/web", "deploy/api"], "unexpected argument"],
    [["deploy/web", "--since", "soon"], 'invalid argument "soon" for "--since" flag'],
    [["deploy/web", "--since", "500ms"], "--since must be a duration of 1s or more"],
    [["deploy/web", "--tail", "-2"], "--tail must be a number"],
    [["deploy/web", "--tail", "ten"], "--tail must be a number"],
    [["deploy/web", "-c", "app", "--all-containers"], "cannot be used together"],
    [["deploy/web", "-n", "Not_A_Namespace"], "--namespace must be a valid namespace name"],
    [["deploy/web", "--colour"], "unknown flag --colour"],
  ])("%p is a usage error: %s", (argv, message) => {
    expect(() => parseLogsArgs(argv)).toThrow(UsageError);
    expect(() => parseLogsArgs(argv)).toThrow(message);
  });

  test("--help lists every flag", () => {
    const help = logsHelp();
    for (const f of Object.values(LOGS_FLAGS)) expect(help).toContain(`--${f.name}`);
    expect(parseLogsArgs(["--help"])).toEqual({ help: true });
  });
});

describe("grantedPods", () => {
  const role = (rules: V1Role["rules"]): V1Role => ({ rules });

  test("the resourceNames of get rules on pods/log, sorted and without duplicates", () => {
    expect(grantedPods(role([
      { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"], resourceNames: ["web-b", "web-a"] },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: ["web-a", "web-c"] },
    ]))).toEqual(["web-a", "web-b", "web-c"]);
  });

  test("names in other rules are not pods to read: the workload, the Role itself, pods without log access", () => {
    expect(grantedPods(role([
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: ["web"] },
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["get"], resourceNames: ["podlogreader-web"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"], resourceNames: ["web-a"] },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["list"], resourceNames: ["web-z"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
    ]))).toEqual([]);
  });

  test("a Role without rules names no pods", () => {
    expect(grantedPods({})).toEqual([]);
  });
});

describe("containersToRead", () => {
  const pod: V1Pod = {
    metadata: { name: "p" },
    spec: {
      initContainers: [{ name: "init" }],
      containers: [{ name: "app" }, { name: "sidecar" }],
      ephemeralContainers: [{ name: "debug" }],
    },
  };

  test("the first app container by default, or the one the default-container annotation names", () => {
    expect(containersToRead(pod, { default: true })).toEqual({ names: ["app"] });
    const annotated = { ...pod, metadata: { annotations: { "kubectl.kubernetes.io/default-container": "sidecar" } } };
    expect(containersToRead(annotated, { default: true })).toEqual({ names: ["sidecar"] });
  });

  test("--all-containers: init, app and ephemeral containers; -c: that one, if the pod has it", () => {
    expect(containersToRead(pod, { all: true })).toEqual({ names: ["init", "app", "sidecar", "debug"] });
    expect(containersToRead(pod, { container: "init" })).toEqual({ names: ["init"] });
    expect(containersToRead(pod, { container: "nope" })).toEqual({ missing: "nope" });
  });
});

describe("printing", () => {
  test("kubectl's prefix; colour only on a terminal without NO_COLOR", () => {
    expect(linePrefix("web-1", "app", false)).toBe("[pod/web-1/app] ");
    const coloured = linePrefix("web-1", "app", true);
    expect(coloured).toContain("\u001b[");
    expect(Bun.stripANSI(coloured)).toBe("[pod/web-1/app] ");
    expect(useColour(true, {})).toBe(true);
    expect(useColour(true, { NO_COLOR: "1" })).toBe(false);
    expect(useColour(true, { NO_COLOR: "" })).toBe(true);
    expect(useColour(false, {})).toBe(false);
    expect(useColour(undefined, {})).toBe(false);
  });

  test("a timestamped line splits into the kubelet's timestamp and the text", () => {
    expect(splitTimestamp("2026-01-01T00:00:00.123456789Z hello world")).toEqual({ timestamp: "2026-01-01T00:00:00.123456789Z", text: "hello world" });
    expect(splitTimestamp("hello world")).toEqual({ text: "hello world" });
    expect(splitTimestamp("2026-01-01T00:00:00Z ")).toEqual({ timestamp: "2026-01-01T00:00:00Z", text: "" });
  });

  test("timestamps order to the nanosecond, whatever their precision", () => {
    const a = timestampNanos("2026-01-01T00:00:00.000000001Z")!;
    const b = timestampNanos("2026-01-01T00:00:00.00000001Z")!;
    const c = timestampNanos("2026-01-01T00:00:01Z")!;
    expect(a < b && b < c).toBe(true);
    expect(timestampNanos("2026-01-01T01:00:00+01:00")).toBe(timestampNanos("2026-01-01T00:00:00Z")!);
    expect(timestampNanos("yesterday")).toBeUndefined();
  });
});

describe("classifyFailure", () => {
  const api = (status: number, message: string, reason?: string) => new ApiError("GET", "/api/v1/namespaces/n/pods/p/log", status, reason, message);

  test.each([
    ["403 Forbidden", api(403, "pods \"p\" is forbidden", "Forbidden"), "forbidden"],
    ["404 NotFound", api(404, "pods \"p\" not found", "NotFound"), "gone"],
    ["a waiting container", api(400, "container \"app\" in pod \"p\" is waiting to start: ContainerCreating", "BadRequest"), "not-started"],
    ["an unscheduled pod", api(400, "pod p does not have a host assigned", "BadRequest"), "not-started"],
    ["no previous container", api(400, "previous terminated container \"app\" in pod \"p\" not found", "BadRequest"), "unavailable"],
    ["an unknown container", api(400, "container nope is not valid for pod p", "BadRequest"), "unavailable"],
    ["a 2xx answer without a body", new ApiError("GET", "/api/v1/namespaces/n/pods/p/log", 500, "EmptyBody", "the response had no body"), "empty"],
    ["500", api(500, "etcdserver: request timed out"), "retry"],
    ["503", api(503, "the server is shutting down"), "retry"],
    ["a network error", new Error("ECONNRESET"), "retry"],
  ] as [string, unknown, Failure][])("%s -> %s", (_label, err, expected) => {
    expect(classifyFailure(err)).toBe(expected);
  });
});
