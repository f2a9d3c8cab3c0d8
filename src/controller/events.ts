import { hostname } from "node:os";
import type { KubeApi } from "../kube/api.ts";
import { Events } from "../kube/resources.ts";
import type { Logger } from "../log.ts";

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

/** Stable reasons, for people who filter Events. */
export const Reasons = {
  ResourceExists: "ResourceExists",
} as const;

const REPEAT_AFTER_MS = 10 * 60_000;

/**
 * Records Warning Events on workloads. The same event is sent at most once per ten minutes;
 * Events are best effort, so a failure is logged, not retried (the log line already says it).
 */
export class EventRecorder {
  private readonly lastSent = new Map<string, number>();
  private readonly instance = hostname();

  constructor(private readonly api: KubeApi, private readonly log: Logger) {}

  async warn(on: InvolvedObject, reason: string, message: string): Promise<void> {
    const dedupe = `${on.uid}\0${reason}\0${message}`;
    const now = Date.now();
    if (now - (this.lastSent.get(dedupe) ?? 0) < REPEAT_AFTER_MS) return;
    this.lastSent.set(dedupe, now);
    const time = new Date(now).toISOString();
    try {
      await this.api.create(Events, on.namespace, {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${on.name.slice(0, 200)}.${now.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`, namespace: on.namespace },
        involvedObject: on,
        type: "Warning",
        reason,
        message,
        source: { component: "podlogreader" },
        reportingComponent: "podlogreader",
        reportingInstance: this.instance,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      });
    } catch (err) {
      this.log.warn(`Could not record a ${reason} Event on ${on.kind} ${on.namespace}/${on.name}: ${(err as Error).message}`);
    }
  }
}
