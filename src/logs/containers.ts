// Which containers of a pod to read, the way kubectl logs chooses them.
import type { V1Pod } from "@kubernetes/client-node";

export type ContainerChoice = { container: string } | { all: true } | { default: true };

const DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container";

/**
 * The container names to read, or an explanation when the pod has none of the asked one.
 * `all` is every init, app and ephemeral container (kubectl --all-containers); the default is
 * the container the pod's kubectl.kubernetes.io/default-container annotation names, else the first.
 */
export function containersToRead(pod: V1Pod, choice: ContainerChoice): { names: string[] } | { missing: string } {
  const spec = pod.spec;
  const app = (spec?.containers ?? []).map((c) => c.name);
  const every = [...(spec?.initContainers ?? []).map((c) => c.name), ...app, ...(spec?.ephemeralContainers ?? []).map((c) => c.name)];
  if ("all" in choice) return { names: every };
  if ("container" in choice) return every.includes(choice.container) ? { names: [choice.container] } : { missing: choice.container };
  const annotated = pod.metadata?.annotations?.[DEFAULT_CONTAINER_ANNOTATION];
  if (annotated && every.includes(annotated)) return { names: [annotated] };
  return { names: app.slice(0, 1) };
}
