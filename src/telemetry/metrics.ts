// The controller's Prometheus metrics, on a registry of their own. Where controller-runtime and
// client-go have a metric for the same thing, it has their name, labels and meaning, so the
// dashboards and alerts written for Kubebuilder controllers work unchanged; what only podlogreader
// has is podlogreader_*.
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { REVISION, VERSION } from "../version.ts";
import { ReconcileMetrics } from "./reconcile.ts";
import { WorkQueueMetrics } from "./workqueue.ts";

/** The controller label of controller_runtime_* and the name label of workqueue_*. */
export const CONTROLLER_NAME = "podlogreader";

/** Read when scraped. */
export interface ControllerGauges {
  queueDepth(): number;
  maxConcurrentReconciles(): number;
  managedWorkloads(): number;
  trackedPods(): number;
  /** Per watched resource, whether its watch is failing now. */
  watchFailing(): Map<string, boolean>;
}

export class Metrics {
  readonly registry = new Registry();

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]) {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** client-go's, counted at the transport: every request sent, by status code ("<error>" when no answer came), HTTP method and host. */
  readonly restClientRequests = this.counter(
    "rest_client_requests_total",
    "Number of HTTP requests, partitioned by status code, method, and host.",
    ["code", "method", "host"],
  );
  /** client-go's: 1 while this replica holds the Lease `name`, 0 otherwise. */
  readonly leaderElectionMasterStatus = new Gauge({
    name: "leader_election_master_status",
    help:
      "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the " +
      "string used to identify the lease. Please make sure to group by name.",
    labelNames: ["name"] as const,
    registers: [this.registry],
  });
  readonly writes = this.counter(
    "podlogreader_object_writes_total",
    "Objects podlogreader created, updated or deleted, by kind and operation.",
    ["kind", "operation"],
  );
  readonly roleWritesRefused = this.counter(
    "podlogreader_role_writes_refused_total",
    "Writes of managed Roles, RoleBindings and ServiceAccounts the apiserver refused (admission, quota, size), by verb and " +
      "resource; while anything grants more than it should, each is followed by the next way out (shrink the Role, empty the " +
      "binding, delete them).",
    ["namespace", "verb", "resource"],
  );
  readonly grantsExpired = this.counter(
    "podlogreader_grants_expired_total",
    "Grant RoleBindings (podlogreader grant) the controller ended (deleted, or emptied where the delete was refused), by namespace " +
      "and reason: expired, role-gone (the workload's Role was deleted), or role-over-grants (the Role granted more than it " +
      "should and could be neither shrunk nor deleted).",
    ["namespace", "reason"],
  );
  readonly authorizerDecisions = this.counter(
    "podlogreader_authorizer_decisions_total",
    "Answers of the webhook authorizer (--authorizer-addr), by request (pod: get of a pod or its log; pods: list or watch by label " +
      "selector; other) and decision (allow, no-opinion, or error: deciding failed, so no opinion).",
    ["request", "decision"],
  );
  readonly watchRestarts = this.counter(
    "podlogreader_watch_restarts_total",
    "Watches that ended in an error or expired (410 Gone) and were started again, by resource.",
    ["resource"],
  );
  readonly podsLeftOut = new Gauge({
    name: "podlogreader_pods_left_out",
    help: "Pods of a workload that do not fit in its Role and whose logs are therefore not granted.",
    labelNames: ["namespace", "workload"] as const,
    registers: [this.registry],
  });
  constructor(build: { version: string; revision: string } = { version: VERSION, revision: REVISION }) {
    // Sampling the event loop's delay every 10 ms (prom-client's default) costs several ms of CPU
    // a second in an idle process; once a second is enough to see a stalled loop.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1000 });
    // prom-client's nodejs_active_{handles,requests,resources}_total are gauges; by Prometheus'
    // naming rules _total marks a counter, and the same counts remain without the suffix.
    for (const m of this.registry.getMetricsAsArray()) {
      if (m.name.endsWith("_total") && !(m instanceof Counter)) this.registry.removeSingleMetric(m.name);
    }
    new Gauge({
      name: "podlogreader_build_info",
      help: "Always 1; the labels say which build of podlogreader runs.",
      labelNames: ["version", "revision"] as const,
      registers: [this.registry],
    }).set(build, 1);
  }

  /** The controller's own metrics: reconciles, its work queue, and gauges read when scraped. */
  track(gauges: ControllerGauges): { reconcile: ReconcileMetrics; workqueue: WorkQueueMetrics } {
    const reconcile = new ReconcileMetrics(this.registry, CONTROLLER_NAME, gauges.maxConcurrentReconciles);
    const workqueue = new WorkQueueMetrics(this.registry, CONTROLLER_NAME, gauges.queueDepth);
    this.gauge("podlogreader_managed_workloads", "Opted-in workloads podlogreader keeps a Role for.", gauges.managedWorkloads);
    this.gauge("podlogreader_tracked_pods", "Opted-in pods held in memory.", gauges.trackedPods);
    new Gauge({
      name: "podlogreader_watch_failing",
      help: "1 while the list or watch of a resource has been failing (it is retried with backoff), 0 while it works.",
      labelNames: ["resource"] as const,
      registers: [this.registry],
      collect() {
        for (const [resource, failing] of gauges.watchFailing()) this.set({ resource }, failing ? 1 : 0);
      },
    });
    return { reconcile, workqueue };
  }

  /** The transport's hook: counts one request. */
  countRequest(method: string, code: string, host: string): void {
    this.restClientRequests.inc({ code, method, host });
  }
}
