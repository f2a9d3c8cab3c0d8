// What a decision reads from the apiserver, just before it is made: the pod a read names (and its
// ReplicaSet or Job when the caches do not hold it), or every pod a selector matches. Reads without
// a resourceVersion are quorum reads, so a pod deleted and made again under the same name is seen
// as the new one. A read that fails or takes longer than `timeoutMs` fails the decision (NoOpinion).
import { isWorkloadKind, POD_OWNER_KINDS, KINDS } from "../access/kinds.ts";
import { OPT_IN_LABEL, OPT_IN_VALUE } from "../access/marks.ts";
import { owned, parseWorkload, type Workload, type World } from "../access/membership.ts";
import type { KubeApi } from "../kube/api.ts";
import { controllerOf, PartialObjectMetadata, parseObject } from "../kube/objects.ts";
import { Pods } from "../kube/resources.ts";
import { isNotFound } from "../kube/transport.ts";
import type { Ask, Evidence, PodFacts } from "./decide.ts";

/** Shorter than the apiserver's webhook timeout (3s in authorizer-config), so a slow read ends as NoOpinion here. */
export const READ_TIMEOUT_MS = 2000;
/** More pods than this behind one selector is not a workload's: the decision is left to RBAC. */
export const MAX_MATCHING_PODS = 5000;

type ReadPod = PodFacts & { controllerName?: string };

function podFacts(raw: unknown): ReadPod {
  const { metadata } = parseObject(PartialObjectMetadata, raw, "Pod metadata");
  return { ...owned(metadata), optedIn: metadata.labels?.[OPT_IN_LABEL] === OPT_IN_VALUE, controllerName: controllerOf(metadata)?.name };
}

export function gatherer(api: KubeApi, world: Pick<World, "workloadOfPod">, timeoutMs: number) {
  return async (ask: Ask): Promise<Evidence> => {
    const signal = AbortSignal.timeout(timeoutMs);
    if (ask.kind === "pods") {
      let count = 0;
      const matching: PodFacts[] = [];
      await api.list(Pods, {
        namespace: ask.namespace,
        labelSelector: ask.selector,
        metadataOnly: true,
        signal,
        onPage: (items) => {
          count += items.length;
          if (count > MAX_MATCHING_PODS) throw new Error(`more than ${MAX_MATCHING_PODS} pods match ${ask.selector}`);
          matching.push(...items.map(podFacts));
        },
      });
      return { matching };
    }
    let pod: ReadPod;
    try {
      pod = podFacts(await api.getMetadata(Pods, ask.namespace, ask.name, signal));
    } catch (err) {
      if (isNotFound(err)) return {};
      throw err;
    }
    if (world.workloadOfPod(pod) || !pod.optedIn) return { pod };
    return { pod, podController: await controllerOfPod(api, pod, ask.namespace, signal) };
  };
}

/** The pod's ReplicaSet or Job as the apiserver has it, when it is the one the pod names by UID. */
async function controllerOfPod(api: KubeApi, pod: ReadPod, namespace: string, signal: AbortSignal): Promise<Workload | undefined> {
  const kind = pod.controllerKind;
  if (!kind || !isWorkloadKind(kind) || !POD_OWNER_KINDS.has(kind) || !KINDS[kind].parentKind) return undefined;
  const ref = pod.controllerName;
  if (!ref) return undefined;
  try {
    const controller = parseWorkload(kind)(await api.get(KINDS[kind].resource, namespace, ref, undefined, signal));
    return controller.uid === pod.controllerUid ? controller : undefined;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
