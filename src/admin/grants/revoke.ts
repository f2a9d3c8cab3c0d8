// `podlogreader revoke`: removes a grant, by workload and subject or by the binding's name. Only
// bindings with the grant marks are ever changed; a foreign binding is named and left alone.
import { boundSubjects, formatSubject, isGrant, isGrantFor, revokeFrom, type Subject } from "../../access/grants.ts";
import type { WorkloadKind } from "../../access/kinds.ts";
import type { KubeApi } from "../../kube/api.ts";
import { parseObject, RoleBinding } from "../../kube/objects.ts";
import { RoleBindings } from "../../kube/resources.ts";
import { isNotFound } from "../../kube/transport.ts";
import { AdminError } from "../errors.ts";

export type RevokeCommand =
  | { namespace: string; kind: WorkloadKind; name: string; subject: Subject }
  | { namespace: string; binding: string };

export interface Revoked {
  namespace: string;
  binding: string;
  /** deleted: the whole binding; narrowed: the subject was taken out, the others keep the grant. */
  action: "deleted" | "narrowed";
  subjects: string[];
}

export async function revoke(api: KubeApi, cmd: RevokeCommand, nowMs = Date.now()): Promise<Revoked[]> {
  const { namespace } = cmd;
  if ("binding" in cmd) {
    let b: RoleBinding;
    try {
      b = parseObject(RoleBinding, await api.get(RoleBindings, namespace, cmd.binding), "RoleBinding");
    } catch (err) {
      if (isNotFound(err)) throw new AdminError(`RoleBinding ${namespace}/${cmd.binding} does not exist`);
      throw err;
    }
    if (!isGrant(b)) throw new AdminError(`RoleBinding ${namespace}/${cmd.binding} was not issued by podlogreader grant; left alone`);
    await api.delete(RoleBindings, namespace, b.metadata.name, { uid: b.metadata.uid, resourceVersion: b.metadata.resourceVersion });
    return [{ namespace, binding: b.metadata.name, action: "deleted", subjects: (b.subjects ?? []).map(formatSubject) }];
  }

  const workload = { kind: cmd.kind, name: cmd.name };
  const bindings = (await api.list(RoleBindings, { namespace })).items.map((r) => parseObject(RoleBinding, r, "RoleBinding"));
  const done: Revoked[] = [];
  for (const b of bindings.filter((x) => isGrantFor(x, workload))) {
    const plan = revokeFrom(b, cmd.subject);
    if (plan.action === "none") continue;
    if (plan.action === "delete") {
      await api.delete(RoleBindings, namespace, b.metadata.name, { uid: b.metadata.uid, resourceVersion: b.metadata.resourceVersion });
      done.push({ namespace, binding: b.metadata.name, action: "deleted", subjects: [formatSubject(cmd.subject)] });
    } else {
      // The version read is a precondition: a concurrent change is not overwritten.
      const { labels, annotations, ownerReferences, ...meta } = b.metadata;
      const narrowed = {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: {
          ...meta,
          labels: labels ?? undefined,
          annotations: annotations ?? undefined,
          ownerReferences: ownerReferences?.map((o) => ({ ...o, controller: o.controller ?? undefined })),
        },
        roleRef: b.roleRef,
        subjects: plan.subjects,
      };
      await api.update(RoleBindings, namespace, narrowed);
      done.push({ namespace, binding: b.metadata.name, action: "narrowed", subjects: [formatSubject(cmd.subject)] });
    }
  }
  if (done.length > 0) return done;
  const wanted = formatSubject(cmd.subject);
  const foreign = boundSubjects(bindings, workload, nowMs).filter((s) => s.source.kind !== "grant" && formatSubject(s.subject) === wanted);
  if (foreign.length > 0) {
    throw new AdminError(
      `${wanted} is bound to ${cmd.kind}/${cmd.name}'s Role by ` +
        `${foreign.map((f) => `RoleBinding ${namespace}/${f.binding.name}`).join(", ")}, which podlogreader grant did not issue; ` +
        `left alone`,
    );
  }
  throw new AdminError(`no grant of ${cmd.kind} ${namespace}/${cmd.name} names ${wanted}`);
}
