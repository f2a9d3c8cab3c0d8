// `podlogreader run`, the controller: its flags (one entry per flag drives parsing, validation,
// the typed Options value and --help) and the wiring of watches, leader election, servers and
// the webhook authorizer.
import { hostname } from "node:os";
import * as v from "valibot";
import { POD_VISIBILITIES, ROLE_POD_NAMES } from "../access/desired.ts";
import { gatherer, READ_TIMEOUT_MS } from "../authorizer/gather.ts";
import { serveAuthorizer } from "../authorizer/server.ts";
import { Controller } from "../controller/controller.ts";
import { connectionFlags, helpFlag, namespacesFlag, namespaceSchema, objectNameSchema } from "../flags/common.ts";
import { boolFlag, durationFlag, flag, parseFlagSet, type ValuesOf } from "../flags/flag-set.ts";
import { UsageError } from "../flags/parse.ts";
import { KubeApi } from "../kube/api.ts";
import { loadConnection } from "../kube/config.ts";
import { LeaderElector } from "../kube/lease.ts";
import { waitForServer } from "../kube/server.ts";
import { Transport } from "../kube/transport.ts";
import { createLogger } from "../log.ts";
import { controllerChecks } from "../telemetry/health.ts";
import { Metrics } from "../telemetry/metrics.ts";
import { serveEndpoints } from "../telemetry/server.ts";
import { VERSION } from "../version.ts";
import type { CommandSpec, HelpRequest } from "./command.ts";
import { messageOf } from "../util/errors.ts";

/** After SIGTERM, how long in-flight writes may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 20_000;

export const RUN_FLAGS = {
  ...connectionFlags,
  namespaces: namespacesFlag("Only watch this namespace. Repeat the flag (or separate with commas) for several. Default: all namespaces."),
  createServiceAccountAndRoleBinding: boolFlag(
    "create-sa-and-rolebinding",
    "Also keep a ServiceAccount and a RoleBinding named like the Role, binding the Role to that ServiceAccount. A ServiceAccount " +
      "of that name that podlogreader did not create is never bound (a NameConflict Warning Event says so). Accepts =true or =false.",
    "false",
  ),
  podVisibility: flag(
    {
      name: "pod-visibility",
      kind: "string",
      value: "MODE",
      default: "own",
      help:
        "What a workload's ServiceAccount may see of pods. own: only its workload's pods, by name (get, list and watch with a " +
        "metadata.name field selector; get on their logs); 'kubectl logs POD', 'kubectl logs -f POD' and 'podlogreader logs' work. " +
        "namespace: also get, list and watch on every pod of the namespace, which 'kubectl logs deploy/NAME', 'kubectl logs -l " +
        "SELECTOR', stern and k9s need; that shows every pod's spec, the environment variables written in it, and the tail of a " +
        "failed container's log that terminationMessagePolicy FallbackToLogsOnError copies into its status. Never other pods' logs.",
    },
    v.picklist(POD_VISIBILITIES, "--pod-visibility must be own or namespace"),
  ),
  rolePodNames: flag(
    {
      name: "role-pod-names",
      kind: "string",
      value: "MODE",
      default: "names",
      help:
        "names: each workload's Role names its pods, which works on any cluster and trails it by one write (a new pod is readable " +
        "once its name is written; a deleted pod's name stays until its removal is). none: the Role names no pod and grants only get " +
        "on the workload and on itself; every read of a pod is decided by the webhook authorizer (--authorizer-addr) when it is " +
        "made, so the apiserver must call it (see 'podlogreader authorizer-config'). With none, no pod and no log is readable " +
        "through the Role while the webhook is down or unreachable.",
    },
    v.picklist(ROLE_POD_NAMES, "--role-pod-names must be names or none"),
  ),
  listPods: boolFlag(
    "list-pods",
    "Deprecated, removed in the next release: --list-pods=true is --pod-visibility=namespace, --list-pods=false is --pod-visibility=own.",
  ),
  debounceMs: durationFlag({
    name: "debounce",
    default: "250ms",
    help:
      "A lone pod arrival is written to its workload's Role at once. In a burst, arrivals that come while a write is in flight, or " +
      "within a window after the last write of arrivals, are gathered into the next one, so a scale-up becomes a few writes; the " +
      "window starts at an eighth of this value and doubles after each write that gathered several arrivals, up to this value. An " +
      "arrival that follows a write within this value, while its ReplicaSet has fewer pods than its spec.replicas, waits for the " +
      "rest, up to this value; the one that completes the ReplicaSet is written at once. Pod removals are always written at once. A " +
      "workload that opts in before it has pods waits up to 20 times this value (at most 5s) for its first, so that its Role is born " +
      "naming it. 0 disables the gathering and the wait.",
  }),
  resyncMs: durationFlag(
    {
      name: "resync",
      default: "10m",
      help: "How often every opted-in workload is checked again without an event. Checking writes nothing when all is in sync.",
    },
    (ms) => (ms < 1000 ? "--resync must be at least 1s" : undefined),
  ),
  workers: flag(
    {
      name: "workers",
      kind: "string",
      value: "N",
      default: "4",
      help:
        "How many workloads are reconciled at the same time. More write more Roles at once; fewer leave each workload more time to " +
        "gather a burst of pod changes into one write, and load the apiserver less.",
    },
    v.pipe(
      v.string(),
      v.regex(/^[1-9][0-9]*$/, "--workers must be a whole number of at least 1"),
      v.transform(Number),
      v.maxValue(256, "--workers must be at most 256"),
    ),
  ),
  leaderElect: boolFlag(
    "leader-elect",
    "Run for leadership on a coordination.k8s.io Lease before writing anything, so several replicas can run and only the leader " +
      "writes. Standbys keep their caches warm.",
    "false",
  ),
  leaderElectionNamespace: flag(
    {
      name: "leader-election-namespace",
      kind: "string",
      value: "NS",
      help: "Namespace of the Lease. Default: the namespace of the in-cluster ServiceAccount, or of the kubeconfig's context, or default.",
    },
    v.optional(namespaceSchema("leader-election-namespace")),
  ),
  leaderElectionId: flag(
    { name: "leader-election-id", kind: "string", value: "NAME", default: "podlogreader", help: "Name of the Lease." },
    objectNameSchema("leader-election-id"),
  ),
  leaseDurationMs: durationFlag(
    {
      name: "leader-elect-lease-duration",
      default: "15s",
      help: "How long a standby waits after the leader's last renewal before taking the Lease over. Written to the Lease in whole seconds.",
    },
    (ms) => (ms < 1000 ? "--leader-elect-lease-duration must be at least 1s" : undefined),
  ),
  renewDeadlineMs: durationFlag(
    {
      name: "leader-elect-renew-deadline",
      default: "10s",
      help: "How long the leader keeps trying to renew before it stops writing and exits. Must be shorter than the lease duration.",
    },
    (ms) => (ms <= 0 ? "--leader-elect-renew-deadline must be greater than 0" : undefined),
  ),
  retryPeriodMs: durationFlag(
    {
      name: "leader-elect-retry-period",
      default: "2s",
      help: "How often to try to take or renew the Lease. The renew deadline must exceed 1.2 times this (the retries' jitter).",
    },
    (ms) => (ms <= 0 ? "--leader-elect-retry-period must be greater than 0" : undefined),
  ),
  metricsBindAddress: bindAddressFlag(
    "metrics-bind-address",
    ":8080",
    'Serve /metrics (Prometheus) on this address, as HOST:PORT or :PORT (every address); port 0 picks a free port. "0" turns it off.',
  ),
  healthProbeBindAddress: bindAddressFlag(
    "health-probe-bind-address",
    ":8081",
    "Serve /healthz (liveness: the event loop answers and the reconcile workers are not stuck; not whether the apiserver answers) " +
      "and /readyz (readiness: every watch has listed once) on this address, as HOST:PORT or :PORT; port 0 picks a free port. Add " +
      '?verbose for one line per check. "0" turns it off.',
  ),
  httpAddr: flag(
    {
      name: "http-addr",
      kind: "string",
      value: "HOST:PORT",
      help:
        "Deprecated, removed in a later release: serves /metrics, /healthz and /readyz together on this address. Given, " +
        "--metrics-bind-address and --health-probe-bind-address are off unless given too.",
    },
    v.optional(listenAddress("http-addr")),
  ),
  authorizerAddr: flag(
    {
      name: "authorizer-addr",
      kind: "string",
      value: "HOST:PORT",
      help:
        "Serve the webhook authorizer (POST /authorize, SubjectAccessReview v1) on this address, over TLS, to callers with a client " +
        "certificate. It allows a bound subject to get a pod of its workload or that pod's log, and to list or watch pods by a " +
        "selector within the workload's that matches only the workload's pods now; it never denies, and answers no opinion when " +
        "unsure. The apiserver must be configured to call it: see 'podlogreader authorizer-config'. Default: off.",
    },
    v.optional(listenAddress("authorizer-addr")),
  ),
  authorizerTlsCertFile: flag(
    {
      name: "authorizer-tls-cert-file",
      kind: "string",
      value: "FILE",
      help: "The authorizer's serving certificate (PEM). Required with --authorizer-addr.",
    },
    v.optional(v.pipe(v.string(), v.minLength(1))),
  ),
  authorizerTlsKeyFile: flag(
    {
      name: "authorizer-tls-key-file",
      kind: "string",
      value: "FILE",
      help: "The key of --authorizer-tls-cert-file (PEM). Required with --authorizer-addr.",
    },
    v.optional(v.pipe(v.string(), v.minLength(1))),
  ),
  authorizerClientCaFile: flag(
    {
      name: "authorizer-client-ca-file",
      kind: "string",
      value: "FILE",
      help:
        "Only callers with a client certificate signed by this CA (PEM) get past the TLS handshake; use a CA that signs only the " +
        "apiserver's webhook client certificate. Required with --authorizer-addr.",
    },
    v.optional(v.pipe(v.string(), v.minLength(1))),
  ),
  logLevel: flag(
    { name: "log-level", kind: "string", value: "LEVEL", default: "info", help: "debug, info, warn or error." },
    v.picklist(["debug", "info", "warn", "error"], "--log-level must be debug, info, warn or error"),
  ),
  logFormat: flag(
    { name: "log-format", kind: "string", value: "FORMAT", default: "text", help: "text (readable) or json (one object per line)." },
    v.picklist(["text", "json"], "--log-format must be text or json"),
  ),
  help: helpFlag,
  version: boolFlag("version", "Print the version and exit."),
};

/** HOST:PORT, :PORT or [IPv6]:PORT, into a host (empty for every address) and a port. */
function listenAddress(name: string) {
  return v.pipe(
    v.string(),
    v.regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]*):\d{1,5}$/, `--${name} must be HOST:PORT or :PORT, e.g. :8080`),
    v.transform((s) => ({
      host: s.slice(0, s.lastIndexOf(":")).replace(/^\[(.*)\]$/, "$1"),
      port: Number(s.slice(s.lastIndexOf(":") + 1)),
    })),
    v.check((a) => a.port <= 65535, `--${name} port must be at most 65535`),
  );
}

/** An address to listen on, or "0" for none (controller-runtime's convention). */
function bindAddressFlag(name: string, def: string, help: string) {
  return flag(
    { name, kind: "string", value: "ADDRESS", default: def, help },
    v.union(
      [
        v.pipe(
          v.literal("0"),
          v.transform(() => undefined),
        ),
        listenAddress(name),
      ],
      `--${name} must be HOST:PORT, :PORT or 0 (off), e.g. ${def}`,
    ),
  );
}

export type Options = ValuesOf<typeof RUN_FLAGS> & {
  /** Flags that still work but are on their way out; said once at start-up. */
  deprecations: string[];
};

/** Parses argv into validated Options; throws UsageError with a one-line message naming the flag. */
export function parseOptions(argv: string[]): Options {
  const values = parseFlagSet(RUN_FLAGS, argv).values;
  const given = (name: string) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  const deprecations: string[] = [];
  // client-go's rules: a leader must give up before a standby may take over, with room for a retry.
  if (values.renewDeadlineMs >= values.leaseDurationMs)
    throw new UsageError("--leader-elect-lease-duration must be greater than --leader-elect-renew-deadline");
  if (values.renewDeadlineMs <= values.retryPeriodMs * 1.2)
    throw new UsageError("--leader-elect-renew-deadline must be greater than 1.2 times --leader-elect-retry-period");
  const authorizerFiles = {
    "authorizer-tls-cert-file": values.authorizerTlsCertFile,
    "authorizer-tls-key-file": values.authorizerTlsKeyFile,
    "authorizer-client-ca-file": values.authorizerClientCaFile,
  };
  for (const [name, file] of Object.entries(authorizerFiles)) {
    if (values.authorizerAddr && !file) throw new UsageError(`--authorizer-addr needs --${name}`);
    if (!values.authorizerAddr && file) throw new UsageError(`--${name} is only used with --authorizer-addr`);
  }
  if (given("list-pods")) {
    const meant = values.listPods ? "namespace" : "own";
    if (given("pod-visibility") && values.podVisibility !== meant) {
      throw new UsageError(
        `--list-pods=${values.listPods} contradicts --pod-visibility=${values.podVisibility}; use --pod-visibility alone`,
      );
    }
    deprecations.push(`--list-pods is deprecated and will be removed in the next release; use --pod-visibility=${meant}`);
    values.podVisibility = meant;
  }
  if (given("http-addr")) {
    deprecations.push(
      "--http-addr is deprecated and will be removed in a later release; use --metrics-bind-address and --health-probe-bind-address",
    );
    if (!given("metrics-bind-address")) values.metricsBindAddress = undefined;
    if (!given("health-probe-bind-address")) values.healthProbeBindAddress = undefined;
  }
  return { ...values, deprecations };
}

/** The controller's intro and the program's list of commands make its help: see registry.ts. */
export const RUN_COMMAND: Omit<CommandSpec<Options>, "help"> = {
  name: "run",
  args: "[flags]",
  does: "run the controller (the default)",
  usage: "[run] [flags]",
  summary: "",
  flags: RUN_FLAGS,
  parse: (argv: string[]): Options | HelpRequest => {
    const options = parseOptions(argv);
    return options.help ? { help: true } : options;
  },
  execute: (options: Options) => runController(options),
};

async function runController(options: Options): Promise<number> {
  if (options.version) {
    process.stdout.write(`podlogreader ${VERSION}\n`);
    return 0;
  }

  const log = createLogger(options.logLevel, options.logFormat);
  for (const deprecation of options.deprecations) log.warn(deprecation);
  if (options.rolePodNames === "none" && !options.authorizerAddr) {
    log.warn(
      "--role-pod-names=none without --authorizer-addr: the Roles name no pod, so no pod is readable unless another podlogreader " +
        "serves the webhook the apiserver calls",
    );
  }
  const stop = new AbortController();
  let exitCode = 0;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stop.signal.aborted) process.exit(1);
      log.info(`Received ${signal}; shutting down`);
      stop.abort();
      setTimeout(() => {
        log.error(`Shutdown took longer than ${SHUTDOWN_GRACE_MS / 1000}s; exiting`);
        process.exit(1);
      }, SHUTDOWN_GRACE_MS).unref();
    });
  }

  try {
    const connection = loadConnection({ kubeconfig: options.kubeconfig, context: options.context });
    const metrics = new Metrics();
    const api = new KubeApi(new Transport(connection, (method, code, host) => metrics.countRequest(method, code, host)));
    log.info(`podlogreader ${VERSION} connecting to ${connection.server} (${connection.source})`);
    const elector = options.leaderElect
      ? new LeaderElector(
          api,
          {
            namespace: options.leaderElectionNamespace ?? connection.namespace ?? "default",
            name: options.leaderElectionId,
            identity: `${hostname()}_${crypto.randomUUID().slice(0, 8)}`,
            leaseDurationMs: options.leaseDurationMs,
            renewDeadlineMs: options.renewDeadlineMs,
            retryPeriodMs: options.retryPeriodMs,
            onLeading: (leading) => metrics.leaderElectionMasterStatus.set({ name: options.leaderElectionId }, leading ? 1 : 0),
          },
          log,
        )
      : undefined;
    // With leader election, no write of the controller starts unless the lease is held and fresh.
    const controller = new Controller(elector ? api.withWriteFence(() => elector.assertLeading()) : api, options, log, metrics);
    const servers = serveEndpoints(
      { metrics: options.metricsBindAddress, probes: options.healthProbeBindAddress, combined: options.httpAddr },
      metrics,
      controllerChecks(controller, stop.signal),
      log,
    );

    if (options.authorizerAddr) {
      const tls = {
        certFile: options.authorizerTlsCertFile!,
        keyFile: options.authorizerTlsKeyFile!,
        clientCaFile: options.authorizerClientCaFile!,
      };
      const view = controller.authorizerView();
      const deps = { view, gather: gatherer(api, view.world, READ_TIMEOUT_MS), ready: () => controller.ready, metrics };
      servers.push(await serveAuthorizer(options.authorizerAddr, tls, deps, log.with({ component: "authorizer" })));
    }

    const serverVersion = await waitForServer(api, log, stop.signal);
    if (serverVersion !== undefined) {
      log.info(`Connected to Kubernetes ${serverVersion}`);
      let leadership: Promise<unknown> = Promise.resolve();
      if (elector) {
        leadership = elector.lead(stop.signal, () => {
          // Another replica may be writing now: stop at once and let the process be restarted.
          exitCode = 1;
          stop.abort();
        });
      }
      await controller.run(
        stop.signal,
        leadership.then(() => undefined),
      );
      await elector?.release();
    }
    await Promise.all(servers.map((s) => s.stop()));
    log.info("Stopped");
    return exitCode;
  } catch (err) {
    log.error(messageOf(err));
    return 1;
  }
}
