// Command-line flags: one table drives parsing, validation (valibot) and --help.
import * as v from "valibot";
import { parseDuration } from "../util/duration.ts";

import { flagHelp, parseFlags, UsageError, type Flag } from "./flags.ts";

export { UsageError };

export const FLAGS: Flag[] = [
  { name: "kubeconfig", kind: "string", value: "PATH", help: "Kubeconfig file to use. Without it: $KUBECONFIG, then in-cluster config, then ~/.kube/config." },
  { name: "namespace", kind: "list", value: "NS", help: "Only watch this namespace. Repeat the flag (or separate with commas) for several. Default: all namespaces." },
  { name: "create-sa-and-rolebinding", kind: "bool", default: "false", help: "Also keep a ServiceAccount and a RoleBinding named like the Role, binding the Role to that ServiceAccount. An existing ServiceAccount of that name is used as it is. Accepts =true or =false." },
  { name: "list-pods", kind: "bool", default: "true", help: "Also grant 'list pods' in the namespace, which 'kubectl logs deploy/NAME' and 'kubectl logs -l SELECTOR' need. Listing shows the spec of every pod in the namespace; --list-pods=false is the strict mode in which only 'kubectl logs POD' works." },
  { name: "debounce", kind: "string", value: "DURATION", default: "1s", help: "How long pod arrivals for one workload are gathered before its Role is written, so a scale-up becomes one write. Pod removals are written at once. 0 disables." },
  { name: "resync", kind: "string", value: "DURATION", default: "10m", help: "How often every opted-in workload is checked again without an event. Checking writes nothing when all is in sync." },
  { name: "workers", kind: "string", value: "N", default: "16", help: "How many workloads are reconciled at the same time. The work is waiting on the apiserver, so more than the cores helps." },
  { name: "leader-elect", kind: "bool", default: "false", help: "Run for leadership on a coordination.k8s.io Lease before writing anything, so several replicas can run and only the leader writes. Standbys keep their caches warm." },
  { name: "leader-election-namespace", kind: "string", value: "NS", help: "Namespace of the Lease. Default: the namespace of the in-cluster ServiceAccount, or of the kubeconfig's context, or default." },
  { name: "leader-election-id", kind: "string", value: "NAME", default: "podlogreader", help: "Name of the Lease." },
  { name: "http-addr", kind: "string", value: "HOST:PORT", help: "Serve /healthz (alive, watches running), /readyz (initial sync done) and /metrics (Prometheus) here, e.g. :8080. Default: not served." },
  { name: "log-level", kind: "string", value: "LEVEL", default: "info", help: "debug, info, warn or error." },
  { name: "log-format", kind: "string", value: "FORMAT", default: "text", help: "text (readable) or json (one object per line)." },
  { name: "help", kind: "bool", help: "Show this help and exit." },
  { name: "version", kind: "bool", help: "Print the version and exit." },
];

const duration = (flag: string) =>
  v.pipe(
    v.string(),
    v.transform((s) => parseDuration(s)),
    v.check((ms): ms is number => ms !== undefined, `--${flag} must be a duration such as 500ms, 2s, 1m or 1h`),
    v.transform((ms) => ms as number),
  );

const bool = (flag: string) =>
  v.pipe(
    v.string(),
    v.picklist(["true", "false"], `--${flag} must be true or false`),
    v.transform((s) => s === "true"),
  );

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const OptionsSchema = v.object({
  kubeconfig: v.optional(v.pipe(v.string(), v.minLength(1, "--kubeconfig needs a path"))),
  namespace: v.pipe(
    v.array(v.string()),
    v.transform((values) => values.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean)),
    v.check((list) => list.every((ns) => ns.length <= 63 && dns1123Label.test(ns)), "--namespace must be a valid namespace name (lowercase letters, digits and '-', at most 63)"),
    v.transform((list) => [...new Set(list)]),
  ),
  "create-sa-and-rolebinding": bool("create-sa-and-rolebinding"),
  "list-pods": bool("list-pods"),
  debounce: duration("debounce"),
  resync: v.pipe(duration("resync"), v.minValue(1000, "--resync must be at least 1s")),
  workers: v.pipe(
    v.string(),
    v.regex(/^[1-9][0-9]*$/, "--workers must be a whole number of at least 1"),
    v.transform(Number),
    v.maxValue(256, "--workers must be at most 256"),
  ),
  "leader-elect": bool("leader-elect"),
  "leader-election-namespace": v.optional(v.pipe(v.string(), v.regex(dns1123Label, "--leader-election-namespace must be a valid namespace name"), v.maxLength(63, "--leader-election-namespace must be at most 63 characters"))),
  "leader-election-id": v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "--leader-election-id must be a valid object name"), v.maxLength(253, "--leader-election-id must be at most 253 characters")),
  "http-addr": v.optional(
    v.pipe(
      v.string(),
      v.regex(/^[^:\s]*:\d{1,5}$/, "--http-addr must be HOST:PORT or :PORT, e.g. :8080"),
      v.transform((s) => ({ host: s.slice(0, s.lastIndexOf(":")), port: Number(s.slice(s.lastIndexOf(":") + 1)) })),
      v.check((a) => a.port <= 65535, "--http-addr port must be at most 65535"),
    ),
  ),
  "log-level": v.picklist(["debug", "info", "warn", "error"], "--log-level must be debug, info, warn or error"),
  "log-format": v.picklist(["text", "json"], "--log-format must be text or json"),
  help: bool("help"),
  version: bool("version"),
});

export interface Options {
  kubeconfig?: string;
  namespaces: string[];
  createServiceAccountAndRoleBinding: boolean;
  listPods: boolean;
  debounceMs: number;
  resyncMs: number;
  workers: number;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  httpAddr?: { host: string; port: number };
  logLevel: "debug" | "info" | "warn" | "error";
  logFormat: "text" | "json";
  help: boolean;
  version: boolean;
}

/** Parses argv into validated Options; throws UsageError with a one-line message naming the flag. */
export function parseOptions(argv: string[]): Options {
  const { values: raw } = parseFlags(FLAGS, argv);
  const result = v.safeParse(OptionsSchema, raw);
  if (!result.success) throw new UsageError(result.issues[0].message);
  const o = result.output;
  return {
    kubeconfig: o.kubeconfig,
    namespaces: o.namespace,
    createServiceAccountAndRoleBinding: o["create-sa-and-rolebinding"],
    listPods: o["list-pods"],
    debounceMs: o.debounce,
    resyncMs: o.resync,
    workers: o.workers,
    leaderElect: o["leader-elect"],
    leaderElectionNamespace: o["leader-election-namespace"],
    leaderElectionId: o["leader-election-id"],
    httpAddr: o["http-addr"],
    logLevel: o["log-level"],
    logFormat: o["log-format"],
    help: o.help,
    version: o.version,
  };
}

export function helpText(): string {
  const lines = [
    "podlogreader keeps, for every workload whose pod template carries the label",
    "podlogreader-affiliate: enable, a Role in its namespace that grants 'get pods/log' on",
    "exactly that workload's current pods. Workloads and the names they get:",
    "  Deployment podlogreader-<name>      StatefulSet podlogreader-sts-<name>",
    "  DaemonSet  podlogreader-ds-<name>   ReplicaSet  podlogreader-rs-<name> (if no Deployment owns it)",
    "  Job        podlogreader-job-<name>  CronJob     podlogreader-cronjob-<name>",
    "                                      (a Job a CronJob owns counts for the CronJob)",
    "  A Deployment whose name begins with sts-, ds-, rs-, job-, cronjob- or deploy- gets",
    "  podlogreader-deploy-<name>, so it never asks for the name of a workload of another kind.",
    "",
    "Usage: podlogreader [run] [flags]      run the controller (the default)",
    "       podlogreader kubeconfig ...     hand out a short-lived kubeconfig of a workload's ServiceAccount",
    "       podlogreader audit ...          check through the apiserver's authorizer that every managed",
    "                                       ServiceAccount reads exactly its workload's pods",
    "       podlogreader status ...         list the opted-in workloads and their Roles",
    "Run 'podlogreader COMMAND --help' for a command's flags.",
    "",
    "Flags of run:",
  ];
  lines.push(...flagHelp(FLAGS));
  lines.push("", "Exit codes: 0 after SIGTERM or SIGINT, 1 on a fatal error, 2 on a bad flag.");
  return lines.join("\n");
}
