// The pods of a workload whose Role names none (`--role-pod-names=none`): listed by the workload's
// selector, which the webhook authorizer allows only when every pod it matches is the workload's,
// then kept only when their controller chain leads to the workload by UID.
import type { KubeApi } from "../kube/api.ts";
import { KINDS, type WorkloadKind } from "../access/kinds.ts";
import { requirementsOf, selectorString } from "../access/selector.ts";
import { controllerOf, PartialObjectMetadata, parseObject, WorkloadSchema, type LabelSelector, type Role } from "../kube/objects.ts";
import { Pods, ReplicaSets, SelfSubjectAccessReviews } from "../kube/resources.ts";
import { ApiError } from "../kube/transport.ts";
import { LINK_KIND, linksToRead, podsOfWorkload, type LinkOwner } from "./members.ts";

/** The Jobs a CronJob's Role grants get on by name. */
export function grantedJobs(role: Pick<Role, "rules">): string[] {
  const names = new Set<string>();
  for (const rule of role.rules ?? []) {
    if (rule.apiGroups?.includes("batch") && rule.resources?.includes("jobs") && rule.verbs.includes("get"))
      for (const n of rule.resourceNames ?? []) names.add(n);
  }
  return [...names].sort();
}

/** Whether this client may list every pod of the namespace, with no selector (SelfSubjectAccessReview); true when unsure. */
async function mayListEveryPod(api: KubeApi, namespace: string): Promise<boolean> {
  try {
    const review = (await api.review(SelfSubjectAccessReviews, {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes: { namespace, verb: "list", resource: "pods" } },
    })) as { status?: { allowed?: boolean } };
    return review.status?.allowed !== false;
  } catch {
    return true;
  }
}

export class SelectedPods {
  /** What each ReplicaSet or Job seen so far is controlled by. */
  private readonly links = new Map<string, LinkOwner>();

  constructor(
    private readonly api: KubeApi,
    private readonly workload: { namespace: string; kind: WorkloadKind; name: string },
  ) {}

  /** The workload's current pods, sorted. Throws the API's error when a list or get fails. */
  async current(role: Role, signal?: AbortSignal): Promise<string[]> {
    const { uid, selectors } = await this.selectors(role, signal);
    const pods = [];
    for (const selector of selectors) {
      const requirements = requirementsOf(selector);
      const labelSelector = requirements && selectorString(requirements);
      if (!labelSelector) throw new Error(`the selector of ${this.workload.kind}/${this.workload.name} cannot be sent as a label selector`);
      const listed = await this.api.list(Pods, { namespace: this.workload.namespace, labelSelector, metadataOnly: true, signal });
      pods.push(...listed.items.map((raw) => parseObject(PartialObjectMetadata, raw, "Pod")));
    }
    // A CronJob's Jobs are known from its Role; a pod of any other Job is left out.
    const unread = LINK_KIND[this.workload.kind] === "ReplicaSet" ? linksToRead(pods, this.workload.kind, this.links) : [];
    let vouches: boolean | undefined;
    for (const link of unread) {
      try {
        const rs = parseObject(
          PartialObjectMetadata,
          await this.api.get(ReplicaSets, this.workload.namespace, link.name, undefined, signal),
          "ReplicaSet",
        );
        if (rs.metadata.uid === link.uid) this.links.set(link.uid, { uid: controllerOf(rs.metadata)?.uid ?? "" });
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) continue;
        if (!(err instanceof ApiError && err.status === 403)) throw err;
        // The reader may not get ReplicaSets (the Role grants no get on them). The pods came from
        // a list by the Deployment's own selector, which the webhook allows only when every pod it
        // matches is the Deployment's (a pod of another workload or a bare pod with its labels
        // makes it no opinion), so each pod of that list is vouched for by the authorizer. Not
        // when the reader may list every pod anyway (--pod-visibility=namespace, another
        // binding): then the list was not the webhook's to allow, and such pods are left out.
        vouches ??= !(await mayListEveryPod(this.api, this.workload.namespace));
        if (vouches) this.links.set(link.uid, "vouched");
      }
    }
    return podsOfWorkload(pods, { kind: this.workload.kind, uid }, this.links);
  }

  /** The workload's UID and the selectors its pods are listed by: its own, or a CronJob's Jobs'. */
  private async selectors(role: Role, signal?: AbortSignal): Promise<{ uid: string; selectors: LabelSelector[] }> {
    const { namespace, kind, name } = this.workload;
    if (LINK_KIND[kind] !== "Job") {
      const w = parseObject(
        WorkloadSchema,
        await this.api.get(KINDS[kind].resource, namespace, name, undefined, signal),
        `${kind} ${namespace}/${name}`,
      );
      if (!w.spec.selector) throw new Error(`${kind}/${name} has no pod selector`);
      return { uid: w.metadata.uid, selectors: [w.spec.selector] };
    }
    // The Role grants no get on a CronJob (kubectl logs does not support it): its UID is the
    // Role's controller ownerReference's, and its pods are its Jobs', listed by each Job's selector.
    const owner = controllerOf(role.metadata);
    if (owner?.kind !== kind || owner.name !== name)
      throw new Error(
        `Role ${namespace}/${role.metadata.name} has no controller ownerReference to ${kind}/${name}, so its Jobs cannot be told ` +
          `from others`,
      );
    const selectors: LabelSelector[] = [];
    for (const job of grantedJobs(role)) {
      let raw: unknown;
      try {
        raw = await this.api.get(KINDS.Job.resource, namespace, job, undefined, signal);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) continue;
        throw err;
      }
      const j = parseObject(WorkloadSchema, raw, `Job ${namespace}/${job}`);
      if (controllerOf(j.metadata)?.uid !== owner.uid || !j.spec.selector) continue;
      this.links.set(j.metadata.uid, { uid: owner.uid });
      selectors.push(j.spec.selector);
    }
    return { uid: owner.uid, selectors };
  }
}
