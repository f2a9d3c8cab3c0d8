// People of the local cluster: client certificates signed by its CA (scripts/harness/controlplane.ts
// makes it), the way a cluster's own CA or an OIDC provider would name a user and their groups.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { signLeaf } from "../../scripts/harness/pki.ts";
import { desiredGrant, type Subject } from "../../src/access/grants.ts";
import type { WorkloadKind } from "../../src/access/kinds.ts";
import { managedName } from "../../src/access/names.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { RoleBindings, Roles, SubjectAccessReviews } from "../../src/kube/resources.ts";
import { Transport } from "../../src/kube/transport.ts";
import { testCluster } from "./cluster.ts";

export interface TestUser {
  name: string;
  groups: string[];
  /** The API as this user: every request presents the user's certificate. */
  api: KubeApi;
  /** A kubeconfig file for the user, for the binary and kubectl. */
  kubeconfig: string;
}

/** A user `name` in `groups` (the certificate's O= fields), authenticated by the cluster's CA. */
export async function testUser(name: string, groups: string[] = [], namespace?: string): Promise<TestUser> {
  const c = await testCluster();
  const dir = mkdtempSync(join(tmpdir(), `podlogreader-user-${name}-`));
  const pki = join(c.dir, "pki");
  const subject = `${groups.map((g) => `/O=${g}`).join("")}/CN=${name}`;
  const { cert, key } = signLeaf(dir, "user", {
    subject,
    ca: join(pki, "ca"),
    days: 1,
    extendedKeyUsage: "clientAuth",
  });
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { certPem: cert, keyPem: key }, namespace), { mode: 0o600 });
  const api = new KubeApi(
    new Transport({
      server: c.server,
      ca: c.caPem,
      cert,
      key,
      authorization: async () => undefined,
      invalidate() {},
      source: `test user ${name}`,
    }),
  );
  return { name, groups, api, kubeconfig };
}

/** Whether the authorizer lets this user (with these groups) read the pod's log (SubjectAccessReview, asked as admin). */
export async function userCanReadLog(user: { name: string; groups: string[] }, namespace: string, pod: string): Promise<boolean> {
  const { admin } = await testCluster();
  const review = (await admin.review(SubjectAccessReviews, {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: {
      user: user.name,
      groups: [...user.groups, "system:authenticated"],
      resourceAttributes: { namespace, verb: "get", resource: "pods", subresource: "log", name: pod },
    },
  })) as { status?: { allowed?: boolean } };
  return review.status?.allowed === true;
}

/** The pods, among `names` and one no pod has, whose logs the user may read, sorted. */
export async function userReadable(user: { name: string; groups: string[] }, namespace: string, names: string[]): Promise<string[]> {
  const asked = [...names, `no-such-pod-${Math.random().toString(36).slice(2)}`];
  const allowed = await Promise.all(asked.map((n) => userCanReadLog(user, namespace, n)));
  return asked.filter((_, i) => allowed[i]).sort();
}

/**
 * Grants the workload's managed Role to `subjects` as `podlogreader grant` writes it (made here as
 * admin, without the command), until `expiresAtMs`. Returns the grant RoleBinding's name.
 */
export async function grantRole(
  namespace: string,
  workload: { kind: WorkloadKind; name: string },
  subjects: Subject[],
  expiresAtMs: number,
  reason = "test",
): Promise<string> {
  const { admin } = await testCluster();
  const role = (await admin.get(Roles, namespace, managedName(workload.kind, workload.name))) as { metadata: { uid: string } };
  const body = desiredGrant({ namespace, ...workload, subjects, roleUid: role.metadata.uid, expiresAtMs, reason, grantedBy: "admin" });
  await admin.create(RoleBindings, namespace, body);
  return body.metadata.name;
}
