// The pure parts of `podlogreader logs`: flags, which pods a Role names and whether it is
// podlogreader's Role at all, which containers to read, how lines are printed, and how a failed
// log request is handled; and that the command reads no pod of a Role without podlogreader's marks.
import { describe, expect, test } from "bun:test";
import type { V1Pod, V1Role } from "@kubernetes/client-node";
import { UsageError } from "../../../src/flags/parse.ts";
import type { KubeApi } from "../../../src/kube/api.ts";
import type { ObjectMeta } from "../../../src/kube/objects.ts";
import type { ResourceType } from "../../../src/kube/resources.ts";
import { ApiError } from "../../../src/kube/transport.ts";
import { containersToRead } from "../../../src/logs/containers.ts";
import { LogsError, printWorkloadLogs } from "../../../src/logs/follow.ts";
import { linePrefix, splitTimestamp, timestampNanos, useColour } from "../../../src/logs/format.ts";
import { grantedPods, roleMode, unmanagedReason } from "../../../src/access/role-pods.ts";
import { linksToRead, podsOfWorkload, type LinkOwner } from "../../../src/logs/members.ts";
import { grantedJobs } from "../../../src/logs/selected.ts";
import { LOGS_FLAGS, parseLogsArgs } from "../../../src/commands/logs.ts";
import { commandHelp } from "../../../src/commands/registry.ts";
import { classifyFailure, type Failure } from "../../../src/logs/stream.ts";

describe("parseLogsArgs", () => {
  test("KIND/NAME with defaults: current pods once, all lines, default container", () => {
    expect(parseLogsArgs(["deploy/web"])).toEqual({
      kind: "Deployment",
      name: "web",
      namespace: undefined,
      kubeconfig: undefined,
      context: undefined,
      follow: false,
      sinceSeconds: undefined,
      tailLines: undefined,
      timestamps: false,
      container: undefined,
      allContainers: false,
      previous: false,
    });
  });

  test("every flag, short and long", () => {
    expect(
      parseLogsArgs([
        "cronjob/nightly",
        "-n",
        "team",
        "-f",
        "--since=2m",
        "--tail",
        "20",
        "--timestamps",
        "-c",
        "app",
        "-p",
        "--kubeconfig",
        "/k",
        "--context",
        "ops",
      ]),
    ).toMatchObject({
      kind: "CronJob",
      name: "nightly",
      namespace: "team",
      follow: true,
      sinceSeconds: 120,
      tailLines: 20,
      timestamps: true,
      container: "app",
      previous: true,
      kubeconfig: "/k",
      context: "ops",
    });
    expect(parseLogsArgs(["sts/db", "--all-containers", "--follow=false"])).toMatchObject({
      kind: "StatefulSet",
      allContainers: true,
      follow: false,
    });
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
    const help = commandHelp("logs");
    for (const f of Object.values(LOGS_FLAGS)) expect(help).toContain(`--${f.name}`);
    expect(parseLogsArgs(["--help"])).toEqual({ help: true });
  });
});

describe("grantedPods", () => {
  const role = (rules: V1Role["rules"]): V1Role => ({ rules });

  test("the resourceNames of get rules on pods/log, sorted and without duplicates", () => {
    expect(
      grantedPods(
        role([
          { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"], resourceNames: ["web-b", "web-a"] },
          { apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: ["web-a", "web-c"] },
        ]),
      ),
    ).toEqual(["web-a", "web-b", "web-c"]);
  });

  test("names in other rules are not pods to read: the workload, the Role itself, pods without log access", () => {
    expect(
      grantedPods(
        role([
          { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: ["web"] },
          { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["get"], resourceNames: ["podlogreader-web"] },
          { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"], resourceNames: ["web-a"] },
          { apiGroups: [""], resources: ["pods/log"], verbs: ["list"], resourceNames: ["web-z"] },
          { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
        ]),
      ),
    ).toEqual([]);
  });

  test("a Role without rules names no pods", () => {
    expect(grantedPods({})).toEqual([]);
  });
});

const LABEL = { "app.kubernetes.io/managed-by": "podlogreader" };
const webOwner = (over: object = {}) => [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "u1", controller: true, ...over }];
const roleMeta = (m: Partial<ObjectMeta> = {}): ObjectMeta => ({
  name: "podlogreader-web",
  namespace: "ns",
  uid: "r1",
  resourceVersion: "1",
  ...m,
});

describe("unmanagedReason: only a Role with podlogreader's marks for the workload names its pods", () => {
  const web = { kind: "Deployment", name: "web" } as const;

  test.each([
    ["label and controller ownerReference", roleMeta({ labels: LABEL, ownerReferences: webOwner() })],
    [
      "label and workload annotation (garbage collection orphaned it)",
      roleMeta({ labels: LABEL, annotations: { "podlogreader.dev/workload": "Deployment/web" } }),
    ],
  ])("%s: podlogreader's", (_, meta) => {
    expect(unmanagedReason(meta, web)).toBeUndefined();
  });

  test.each([
    ["no marks at all", roleMeta(), "it lacks the label app.kubernetes.io/managed-by=podlogreader"],
    [
      "an owner and annotation but no label",
      roleMeta({ ownerReferences: webOwner(), annotations: { "podlogreader.dev/workload": "Deployment/web" } }),
      "it lacks the label app.kubernetes.io/managed-by=podlogreader",
    ],
    [
      "another manager's label",
      roleMeta({ labels: { "app.kubernetes.io/managed-by": "helm" }, ownerReferences: webOwner() }),
      "it lacks the label app.kubernetes.io/managed-by=podlogreader",
    ],
    [
      "the label alone",
      roleMeta({ labels: LABEL }),
      "it has neither a controller ownerReference nor a podlogreader.dev/workload annotation naming its workload",
    ],
    [
      "the label and a non-controller owner",
      roleMeta({ labels: LABEL, ownerReferences: webOwner({ controller: false }) }),
      "it has neither a controller ownerReference nor a podlogreader.dev/workload annotation naming its workload",
    ],
    [
      "the label and an owner of another name",
      roleMeta({ labels: LABEL, ownerReferences: webOwner({ name: "api" }) }),
      "its controller ownerReference names apps/v1 Deployment/api",
    ],
    [
      "the label and an owner of another kind",
      roleMeta({ labels: LABEL, ownerReferences: webOwner({ kind: "StatefulSet" }) }),
      "its controller ownerReference names apps/v1 StatefulSet/web",
    ],
    [
      "the label and an owner of another API group",
      roleMeta({ labels: LABEL, ownerReferences: webOwner({ apiVersion: "example.com/v1" }) }),
      "its controller ownerReference names example.com/v1 Deployment/web",
    ],
    [
      "the label and an annotation naming another workload",
      roleMeta({ labels: LABEL, annotations: { "podlogreader.dev/workload": "Deployment/api" } }),
      "its podlogreader.dev/workload annotation names Deployment/api",
    ],
  ])("%s: not podlogreader's", (_, meta, reason) => {
    expect(unmanagedReason(meta, web)).toBe(reason);
  });
});

/** A KubeApi that serves one Role (the next of `roles` on each read), pods and their logs, and records every path asked for. */
/** The Deployment web (uid u1, selector app=web) and, for a Role naming no pod, the pods its selector lists. */
const WEB = {
  metadata: { name: "web", namespace: "ns", uid: "u1", resourceVersion: "1" },
  spec: { selector: { matchLabels: { app: "web" } } },
};
interface World {
  pods?: object[];
  replicaSets?: Record<string, object | ApiError>;
  mayListEveryPod?: boolean;
}

function fakeApi(roles: object[], world: World = {}) {
  const asked: string[] = [];
  let reads = 0;
  const path = (rt: ResourceType, name: string, sub?: string) => `${rt.plural}/${name}${sub ? `/${sub}` : ""}`;
  const api = {
    get: async (rt: ResourceType, _ns: string, name: string) => {
      asked.push(path(rt, name));
      if (rt.plural === "roles") return roles[Math.min(reads++, roles.length - 1)];
      if (rt.plural === "deployments") return WEB;
      if (rt.plural === "replicasets") {
        const rs = world.replicaSets?.[name];
        if (rs instanceof ApiError) throw rs;
        if (rs) return rs;
        throw new ApiError("GET", path(rt, name), 404, "NotFound", "not found");
      }
      return { metadata: { name }, spec: { containers: [{ name: "app" }] } };
    },
    list: async (rt: ResourceType, opts: { labelSelector?: string }) => {
      asked.push(`list ${rt.plural}?labelSelector=${opts.labelSelector}`);
      return { items: world.pods ?? [], resourceVersion: "1" };
    },
    review: async (rt: ResourceType, body: { spec: { resourceAttributes: { verb: string; resource: string } } }) => {
      const a = body.spec.resourceAttributes;
      asked.push(`${rt.plural}: ${a.verb} ${a.resource}`);
      return { status: { allowed: world.mayListEveryPod === true } };
    },
    stream: async (rt: ResourceType, _ns: string, name: string, sub: string) => {
      asked.push(path(rt, name, sub));
      return new Response(`2026-01-01T00:00:00Z ${name} line\n`).body!;
    },
  } as unknown as KubeApi;
  return { api, asked };
}

/** `podlogreader logs deploy/web -n ns`, once. */
const WEB_REQUEST = {
  namespace: "ns",
  kind: "Deployment",
  name: "web",
  containers: { default: true },
  follow: false,
  timestamps: false,
  previous: false,
  colour: false,
} as const;

/** An output that keeps the lines and the notes it is given. */
function collect() {
  const seen = { lines: [] as string[], notes: [] as string[] };
  return { seen, out: { line: (s: string) => seen.lines.push(s), note: (s: string) => seen.notes.push(s) } };
}

describe("printWorkloadLogs reads pods only through podlogreader's Role for the workload", () => {
  const rules = [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: ["other-0"] }];

  test("a Role of the managed name without the marks: one line naming the Role and what it lacks, and no pod read", async () => {
    const { api, asked } = fakeApi([{ metadata: roleMeta(), rules }]);
    const { seen, out } = collect();
    const run = printWorkloadLogs(api, WEB_REQUEST, out, new AbortController().signal);
    await expect(run).rejects.toThrow(LogsError);
    await expect(run).rejects.toThrow(
      "Role ns/podlogreader-web is not podlogreader's Role for Deployment/web: it lacks the label " +
        "app.kubernetes.io/managed-by=podlogreader; not reading the pods it names",
    );
    expect(asked).toEqual(["roles/podlogreader-web"]);
    expect(seen).toEqual({ lines: [], notes: [] });
  });

  test("the same Role with the marks: the pod it names is read", async () => {
    const { api, asked } = fakeApi([{ metadata: roleMeta({ labels: LABEL, ownerReferences: webOwner() }), rules }]);
    const { seen, out } = collect();
    expect(await printWorkloadLogs(api, WEB_REQUEST, out, new AbortController().signal)).toBe(0);
    expect(asked).toEqual(["roles/podlogreader-web", "pods/other-0", "pods/other-0/log"]);
    expect(seen.lines).toEqual(["[pod/other-0/app] other-0 line"]);
  });

  test("while following, a Role that loses its marks ends the command with a note and exit code 1", async () => {
    const marked = { metadata: roleMeta({ labels: LABEL, ownerReferences: webOwner() }), rules: [] };
    const replaced = { metadata: roleMeta({ uid: "r2", resourceVersion: "2" }), rules };
    const { api, asked } = fakeApi([marked, replaced]);
    const { seen, out } = collect();
    expect(await printWorkloadLogs(api, { ...WEB_REQUEST, follow: true }, out, new AbortController().signal, 10)).toBe(1);
    expect(seen.notes.at(-1)).toBe(
      "Role ns/podlogreader-web is not podlogreader's Role for Deployment/web: it lacks the label " +
        "app.kubernetes.io/managed-by=podlogreader; stopped following",
    );
    expect(asked.filter((p) => p.startsWith("pods/"))).toEqual([]);
    expect(seen.lines).toEqual([]);
  });
});

describe("printWorkloadLogs --follow ends the streams whose access ended, though the Role stays readable", () => {
  const request = { ...WEB_REQUEST, follow: true };
  const role = {
    metadata: roleMeta({ labels: LABEL, ownerReferences: webOwner() }),
    rules: [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: ["web-a", "web-b"] }],
  };

  /**
   * A KubeApi whose log streams stay open until aborted, and whose authorizer allows get pods/log
   * on the pods in `readable` (or fails to answer while `reviewsFail`).
   */
  function followingApi() {
    const state = { readable: new Set(["web-a", "web-b"]), reviewsFail: false, open: new Set<string>(), reviews: 0 };
    const api = {
      get: async (rt: ResourceType, _ns: string, name: string) =>
        rt.plural === "roles" ? role : { metadata: { name, uid: name }, spec: { containers: [{ name: "app" }] } },
      stream: async (_rt: ResourceType, _ns: string, name: string, _sub: string, _query: object, signal: AbortSignal) => {
        state.open.add(name);
        return new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(`2026-01-01T00:00:00Z ${name} line\n`));
            signal.addEventListener("abort", () => {
              state.open.delete(name);
              controller.error(new Error("aborted"));
            });
          },
        });
      },
      review: async (
        rt: ResourceType,
        body: { spec: { resourceAttributes: { verb: string; resource: string; subresource?: string; name: string } } },
      ) => {
        state.reviews++;
        if (state.reviewsFail)
          throw new ApiError("POST", `/apis/authorization.k8s.io/v1/${rt.plural}`, 503, "ServiceUnavailable", "unavailable");
        const a = body.spec.resourceAttributes;
        return {
          status: {
            allowed:
              rt.plural === "selfsubjectaccessreviews" &&
              a.verb === "get" &&
              a.resource === "pods" &&
              a.subresource === "log" &&
              state.readable.has(a.name),
          },
        };
      },
    } as unknown as KubeApi;
    return { api, state };
  }
  const until = async (what: string, check: () => boolean) => {
    for (let i = 0; i < 500 && !check(); i++) await Bun.sleep(10);
    if (!check()) throw new Error(`timed out waiting for ${what}`);
  };

  test("a pod whose log may no longer be read stops with a note; the others go on; when none is left the command ends with 1", async () => {
    const { api, state } = followingApi();
    const { seen, out } = collect();
    const run = printWorkloadLogs(api, request, out, new AbortController().signal, 5, 20);
    await until("both streams", () => state.open.size === 2);

    state.readable.delete("web-a");
    await until("web-a's stream to end", () => !state.open.has("web-a"));
    expect(seen.notes).toEqual([
      "- pod/web-a: access to its log ended (the apiserver no longer allows get pods/log on it); stopped following it",
    ]);
    // Reopened streams would print their first line again: web-a is not followed again.
    const reviews = state.reviews;
    await until("two more rounds of reviews", () => state.reviews >= reviews + 2);
    expect([...state.open]).toEqual(["web-b"]);
    expect(seen.lines.filter((l) => l.includes("web-a"))).toEqual(["[pod/web-a/app] web-a line"]);

    state.readable.delete("web-b");
    expect(await run).toBe(1);
    expect(state.open.size).toBe(0);
    expect(seen.notes.slice(1)).toEqual([
      "- pod/web-b: access to its log ended (the apiserver no longer allows get pods/log on it); stopped following it",
      "access to the logs of every followed pod of Deployment/web has ended; stopped following",
    ]);
  });

  test("an authorizer that cannot be asked ends nothing: only a refusal does", async () => {
    const { api, state } = followingApi();
    state.reviewsFail = true;
    const { seen, out } = collect();
    const stop = new AbortController();
    const run = printWorkloadLogs(api, request, out, stop.signal, 5, 20);
    await until("three rounds of reviews", () => state.reviews >= 6);
    expect(state.open.size).toBe(2);
    stop.abort();
    expect(await run).toBe(0);
    expect(seen.notes).toEqual([]);
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
    expect(splitTimestamp("2026-01-01T00:00:00.123456789Z hello world")).toEqual({
      timestamp: "2026-01-01T00:00:00.123456789Z",
      text: "hello world",
    });
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
  const api = (status: number, message: string, reason?: string) =>
    new ApiError("GET", "/api/v1/namespaces/n/pods/p/log", status, reason, message);

  test.each([
    ["403 Forbidden", api(403, 'pods "p" is forbidden', "Forbidden"), "forbidden"],
    ["404 NotFound", api(404, 'pods "p" not found', "NotFound"), "gone"],
    ["a waiting container", api(400, 'container "app" in pod "p" is waiting to start: ContainerCreating', "BadRequest"), "not-started"],
    ["an unscheduled pod", api(400, "pod p does not have a host assigned", "BadRequest"), "not-started"],
    ["no previous container", api(400, 'previous terminated container "app" in pod "p" not found', "BadRequest"), "unavailable"],
    ["an unknown container", api(400, "container nope is not valid for pod p", "BadRequest"), "unavailable"],
    [
      "a 2xx answer without a body",
      new ApiError("GET", "/api/v1/namespaces/n/pods/p/log", 500, "EmptyBody", "the response had no body"),
      "empty",
    ],
    ["500", api(500, "etcdserver: request timed out"), "retry"],
    ["503", api(503, "the server is shutting down"), "retry"],
    ["a network error", new Error("ECONNRESET"), "retry"],
  ] as [string, unknown, Failure][])("%s -> %s", (_label, err, expected) => {
    expect(classifyFailure(err)).toBe(expected);
  });
});

describe("printWorkloadLogs with a Role that names no pod (--role-pod-names=none)", () => {
  const noPods = {
    metadata: roleMeta({ labels: LABEL, ownerReferences: webOwner() }),
    rules: [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: ["web"] }],
  };
  const pod = (name: string, controller?: { kind: string; name: string; uid: string }) => ({
    metadata: {
      name,
      namespace: "ns",
      uid: `p-${name}`,
      resourceVersion: "1",
      ...(controller ? { ownerReferences: [{ apiVersion: "apps/v1", controller: true, ...controller }] } : {}),
    },
  });
  const rs = (name: string, uid: string, ownerUid: string) => ({
    metadata: { name, namespace: "ns", uid, resourceVersion: "1", ownerReferences: webOwner({ uid: ownerUid }) },
  });

  test("lists the pods by web's selector and reads only those whose ReplicaSet is web's by UID", async () => {
    const { api, asked } = fakeApi([noPods], {
      pods: [
        pod("web-a", { kind: "ReplicaSet", name: "web-1", uid: "rs1" }),
        pod("adopted", { kind: "ReplicaSet", name: "other-1", uid: "rs2" }),
        pod("direct", { kind: "Deployment", name: "web", uid: "u1" }),
        pod("bare"),
      ],
      replicaSets: { "web-1": rs("web-1", "rs1", "u1"), "other-1": rs("other-1", "rs2", "u9") },
    });
    const { seen, out } = collect();
    expect(await printWorkloadLogs(api, WEB_REQUEST, out, new AbortController().signal)).toBe(0);
    expect(asked).toContain("list pods?labelSelector=app in (web)");
    expect(asked.filter((p) => p.startsWith("pods/"))).toEqual(["pods/web-a", "pods/web-a/log"]);
    expect(seen.lines).toEqual(["[pod/web-a/app] web-a line"]);
  });

  test("when the ReplicaSet cannot be read, the pods of the list only the webhook could allow are read", async () => {
    const { api, asked } = fakeApi([noPods], {
      pods: [pod("web-a", { kind: "ReplicaSet", name: "web-1", uid: "rs1" })],
      replicaSets: { "web-1": new ApiError("GET", "/replicasets/web-1", 403, "Forbidden", "forbidden") },
    });
    const { out } = collect();
    expect(await printWorkloadLogs(api, WEB_REQUEST, out, new AbortController().signal)).toBe(0);
    expect(asked).toContain("selfsubjectaccessreviews: list pods");
    expect(asked.filter((p) => p.startsWith("pods/"))).toEqual(["pods/web-a", "pods/web-a/log"]);
  });

  test(
    "when the ReplicaSet cannot be read and the reader may list " + "every pod anyway, the list vouches for nothing: no pod read",
    async () => {
      const { api, asked } = fakeApi([noPods], {
        pods: [pod("web-a", { kind: "ReplicaSet", name: "web-1", uid: "rs1" })],
        replicaSets: { "web-1": new ApiError("GET", "/replicasets/web-1", 403, "Forbidden", "forbidden") },
        mayListEveryPod: true,
      });
      const { seen, out } = collect();
      expect(await printWorkloadLogs(api, WEB_REQUEST, out, new AbortController().signal)).toBe(0);
      expect(asked.filter((p) => p.startsWith("pods/"))).toEqual([]);
      expect(seen.notes).toEqual(["Deployment/web has no pods"]);
    },
  );

  test("a list the apiserver refuses: one line saying why (no pods, or no webhook allow), and no pod read", async () => {
    const { api, asked } = fakeApi([noPods]);
    (api as unknown as { list: unknown }).list = async () => {
      throw new ApiError("GET", "/api/v1/namespaces/ns/pods", 403, "Forbidden", "forbidden");
    };
    const { seen, out } = collect();
    expect(await printWorkloadLogs(api, WEB_REQUEST, out, new AbortController().signal)).toBe(0);
    expect(seen.notes).toEqual([
      "Role ns/podlogreader-web names no pods, and listing Deployment/web's pods by its selector was refused: it has none, or, " +
        "with --role-pod-names=none, podlogreader's webhook authorizer did not allow the list (is the apiserver configured to call " +
        "it, and is it running?)",
    ]);
    expect(asked.filter((p) => p.startsWith("pods/"))).toEqual([]);
  });

  test("a list that fails otherwise ends the command with the error", async () => {
    const { api } = fakeApi([noPods]);
    (api as unknown as { list: unknown }).list = async () => {
      throw new ApiError("GET", "/api/v1/namespaces/ns/pods", 400, "BadRequest", "bad selector");
    };
    await expect(printWorkloadLogs(api, WEB_REQUEST, collect().out, new AbortController().signal)).rejects.toThrow(
      "cannot list Deployment/web's pods: ",
    );
  });
});

describe("podsOfWorkload: a listed pod counts only when its controller chain leads to the workload by UID", () => {
  const pod = (name: string, kind?: string, uid?: string) => ({
    metadata: { name, ...(kind ? { ownerReferences: [{ apiVersion: "v1", kind, name: "x", uid: uid!, controller: true }] } : {}) },
  });
  const notController = {
    metadata: {
      name: "loose",
      ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "db", uid: "s1", controller: false }],
    },
  };

  test.each([
    [
      "StatefulSet",
      "s1",
      [pod("db-0", "StatefulSet", "s1"), pod("db-x", "StatefulSet", "s2"), pod("bare"), notController],
      new Map(),
      ["db-0"],
    ],
    ["Job", "j1", [pod("run-a", "Job", "j1"), pod("run-b", "ReplicaSet", "j1")], new Map(), ["run-a"]],
    [
      "Deployment",
      "d1",
      [pod("a", "ReplicaSet", "r1"), pod("b", "ReplicaSet", "r2"), pod("c", "ReplicaSet", "r3"), pod("d", "Deployment", "d1")],
      new Map<string, LinkOwner>([
        ["r1", { uid: "d1" }],
        ["r2", { uid: "d9" }],
      ]),
      ["a"],
    ],
    ["Deployment", "d1", [pod("a", "ReplicaSet", "r1")], new Map<string, LinkOwner>([["r1", "vouched"]]), ["a"]],
    ["CronJob", "c1", [pod("a", "Job", "j1"), pod("b", "Job", "j2")], new Map<string, LinkOwner>([["j1", { uid: "c1" }]]), ["a"]],
  ] as const)("%s %s", (kind, uid, pods, links, expected) => {
    expect(podsOfWorkload(pods, { kind, uid }, links)).toEqual([...expected]);
  });

  test("linksToRead: the ReplicaSets named by the pods' controllers not looked up yet, once each", () => {
    const pods = [pod("a", "ReplicaSet", "r1"), pod("b", "ReplicaSet", "r1"), pod("c", "ReplicaSet", "r2"), pod("d", "StatefulSet", "s1")];
    expect(linksToRead(pods, "Deployment", new Map([["r2", "vouched"]]))).toEqual([{ name: "x", uid: "r1" }]);
    expect(linksToRead(pods, "StatefulSet", new Map())).toEqual([]);
  });
});

describe("roleMode and grantedJobs: what a Role says about how it serves its workload", () => {
  test("a Role that names pods serves them by name; one that names none leaves them to the webhook", () => {
    expect(roleMode({ rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get"], resourceNames: ["web-a"] }] })).toBe(
      "names",
    );
    expect(roleMode({ rules: [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: ["web"] }] })).toBe("none");
    expect(roleMode({ rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] })).toBe("none");
  });

  test("grantedJobs: the Jobs a CronJob's Role grants get on by name", () => {
    expect(
      grantedJobs({
        rules: [
          { apiGroups: ["batch"], resources: ["jobs"], verbs: ["get"], resourceNames: ["n-2", "n-1"] },
          { apiGroups: ["batch"], resources: ["cronjobs"], verbs: ["get"], resourceNames: ["n"] },
          { apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: ["p"] },
        ],
      }),
    ).toEqual(["n-1", "n-2"]);
  });
});
