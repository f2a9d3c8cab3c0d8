// `podlogreader grant`: a RoleBinding from a workload's managed Role to people, groups or
// ServiceAccounts, until a time and for a reason. The apiserver decides whether the person may
// bind the Role at all (RBAC's escalation check); this only refuses what must never be bound.
import { desiredGrant, formatSubject, isGrantFor, rfc3339, type Subject } from "../../access/grants.ts";
import type { WorkloadKind } from "../../access/kinds.ts";
import { managedName } from "../../access/names.ts";
import { isManagedFor } from "../../access/ownership.ts";
import type { KubeApi } from "../../kube/api.ts";
import { parseObject, Role, RoleBinding } from "../../kube/objects.ts";
import {
  RoleBindings,
  Roles,
  SelfSubjectReviews,
  ValidatingAdmissionPolicies,
  ValidatingAdmissionPolicyBindings,
} from "../../kube/resources.ts";
import { ApiError, isNotFound } from "../../kube/transport.ts";
import { AdminError } from "../errors.ts";
import { messageOf } from "../../util/errors.ts";

export interface GrantCommand {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  subjects: Subject[];
  forMs: number;
  reason: string;
}

export interface Granted {
  namespace: string;
  binding: string;
  workload: string;
  subjects: string[];
  expires: string;
  reason: string;
  grantedBy: string;
  /** The same subjects were granted before: the binding now carries the new expiry and reason. */
  renewed: boolean;
  /** Why the cluster may not hold this grant to its record, when it may not. */
  advisory?: string;
}

/**
 * The ValidatingAdmissionPolicy (and its binding) of the chart that holds every grant to its
 * record (chart/templates/grant-policy.yaml).
 */
export const GRANT_POLICY_NAME = "grants.podlogreader.dev";

/**
 * One line when the grant's record is not known to be enforced: the policy or its binding is
 * missing, or this user may not read them. Undefined when both are there.
 */
export async function grantPolicyAdvisory(api: KubeApi): Promise<string | undefined> {
  for (const rt of [ValidatingAdmissionPolicies, ValidatingAdmissionPolicyBindings]) {
    try {
      await api.get(rt, undefined, GRANT_POLICY_NAME);
    } catch (err) {
      const why = isNotFound(err)
        ? `no ${rt.kind} ${GRANT_POLICY_NAME}`
        : err instanceof ApiError && err.status === 403
          ? `you may not read ${rt.kind} ${GRANT_POLICY_NAME}, so it could not be checked`
          : `${rt.kind} ${GRANT_POLICY_NAME} could not be read: ${messageOf(err)}`;
      return `the cluster does not enforce grant records (${why}): expiry and granted-by are advisory`;
    }
  }
  return undefined;
}

const ESCALATION_TEXT = "attempting to grant RBAC permissions not currently held";

/** One line that says why the apiserver refused to write the grant, for the person who asked. */
export function explainRefusal(err: ApiError, namespace: string, role: string): string | undefined {
  if (err.message.includes(ESCALATION_TEXT)) {
    return (
      `You can only grant what you hold: you need to be able to read these logs yourself (the permissions of Role ` +
      `${namespace}/${role}), or hold the verb bind on that Role.`
    );
  }
  if (err.message.includes(`ValidatingAdmissionPolicy '${GRANT_POLICY_NAME}'`)) {
    return `The cluster's grant policy (ValidatingAdmissionPolicy ${GRANT_POLICY_NAME}) refused it: see its message above.`;
  }
  if (err.status === 403) return `You need permission to create and update RoleBindings in namespace ${namespace}.`;
  return undefined;
}

/** The user name the apiserver authenticates this connection as (SelfSubjectReview). */
export async function whoAmI(api: KubeApi): Promise<string> {
  const review = (await api.create(SelfSubjectReviews, undefined, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "SelfSubjectReview",
  })) as { status?: { userInfo?: { username?: string } } };
  const username = review.status?.userInfo?.username;
  if (!username)
    throw new AdminError("the apiserver's SelfSubjectReview returned no user name; a grant records who made it, so none was made");
  return username;
}

export async function grant(api: KubeApi, cmd: GrantCommand, nowMs = Date.now()): Promise<Granted> {
  const { namespace, kind, name } = cmd;
  const role = managedName(kind, name);
  const grantedBy = await whoAmI(api);
  let live: Role;
  try {
    live = parseObject(Role, await api.get(Roles, namespace, role), "Role");
  } catch (err) {
    if (isNotFound(err))
      throw new AdminError(
        `Role ${namespace}/${role} does not exist: ${kind}/${name} has not opted in (label podlogreader-affiliate: enable in its ` +
          `pod template), or the controller has not written its Role yet`,
      );
    throw err;
  }
  if (!isManagedFor(live.metadata, { kind, name })) {
    throw new AdminError(`Role ${namespace}/${role} was not created by podlogreader for ${kind}/${name}; refusing to bind it`);
  }

  const advisory = await grantPolicyAdvisory(api);
  const body = desiredGrant({
    namespace,
    kind,
    name,
    subjects: cmd.subjects,
    roleUid: live.metadata.uid,
    expiresAtMs: nowMs + cmd.forMs,
    reason: cmd.reason,
    grantedBy,
  });
  const result: Granted = {
    namespace,
    binding: body.metadata.name,
    workload: `${kind}/${name}`,
    subjects: cmd.subjects.map(formatSubject),
    expires: rfc3339(nowMs + cmd.forMs),
    reason: cmd.reason,
    grantedBy,
    renewed: false,
    ...(advisory ? { advisory } : {}),
  };
  try {
    try {
      await api.create(RoleBindings, namespace, body);
      return result;
    } catch (err) {
      if (!(err instanceof ApiError && err.reason === "AlreadyExists")) throw err;
    }
    const existing = parseObject(RoleBinding, await api.get(RoleBindings, namespace, body.metadata.name), "RoleBinding");
    if (!isGrantFor(existing, { kind, name })) {
      throw new AdminError(
        `RoleBinding ${namespace}/${body.metadata.name} exists and was not issued by podlogreader grant for ${kind}/${name}; left alone`,
      );
    }
    // Renewal replaces the binding: the grant policy bounds an expiry from the binding's creation
    // and lets no update move it later. The create above was refused as AlreadyExists only after
    // admission had accepted this body, so the old grant is not deleted for a new one refused.
    // The version read is a precondition, so a concurrent revoke or expiry is not undone.
    await api.delete(RoleBindings, namespace, body.metadata.name, {
      uid: existing.metadata.uid,
      resourceVersion: existing.metadata.resourceVersion,
    });
    await api.create(RoleBindings, namespace, body);
    return { ...result, renewed: true };
  } catch (err) {
    if (err instanceof ApiError) {
      const why = explainRefusal(err, namespace, role);
      if (why) throw new AdminError(`the apiserver refused the grant: ${err.message}\n${why}`, { cause: err });
    }
    throw err;
  }
}
