// Workload objects the test suites, the benchmark and the chaos harness create.
import type { V1Deployment, V1PodTemplateSpec } from "@kubernetes/client-node";
import { OPT_IN_LABEL, OPT_IN_VALUE } from "../../src/access/marks.ts";

/** The pod template label by which a workload opts in. */
export const OPT_IN: Record<string, string> = { [OPT_IN_LABEL]: OPT_IN_VALUE };

/** Pods never become ready without a real kubelet: let rollouts replace them all at once anyway. */
export const ALL_AT_ONCE = { type: "RollingUpdate", rollingUpdate: { maxSurge: "100%", maxUnavailable: "100%" } };

export interface DeploymentOptions {
  replicas?: number;
  /** Selector labels; default `app=<name>` (cut to a label value's 63 characters). */
  selector?: Record<string, string>;
  /** Pod template labels besides the selector's, e.g. OPT_IN. */
  templateLabels?: Record<string, string>;
  /** A whole pod template instead of the default one container; its labels must match the selector. */
  template?: V1PodTemplateSpec;
}

/** A Deployment whose spec is always there, so callers may build on its template. */
export type DeploymentObject = V1Deployment & { spec: NonNullable<V1Deployment["spec"]> };

export function deployment(namespace: string | undefined, name: string, opts: DeploymentOptions = {}): DeploymentObject {
  const selector = opts.selector ?? { app: name.slice(0, 63) };
  const template = opts.template ?? {
    metadata: { labels: { ...selector, ...opts.templateLabels } },
    spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: namespace ? { name, namespace } : { name },
    spec: { replicas: opts.replicas ?? 1, selector: { matchLabels: selector }, strategy: ALL_AT_ONCE, template },
  };
}
