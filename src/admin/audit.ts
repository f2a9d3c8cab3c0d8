// `podlogreader audit`: judges every managed ServiceAccount from fresh reads of the API, trusting
// neither the controller's index nor the RBAC objects' own say. Who belongs to a workload is worked
// out again here (./audit/members.ts); what a ServiceAccount may do is asked of the apiserver's
// authorizer (SubjectAccessReview); the RBAC objects only name the binding that grants it, and the
// resource names worth asking about. Bindings to people (grants, and bindings to a managed Role that
// podlogreader did not issue) are judged from the bindings themselves (./audit/grants.ts).
import { isWorkloadKind } from "../access/kinds.ts";
import { managedOwner } from "../access/ownership.ts";
import { serviceAccountCan } from "../kube/access-review.ts";
import type { KubeApi } from "../kube/api.ts";
import { finding, LOG_PERMISSION, type Finding } from "./audit/findings.ts";
import { grantFindings } from "./audit/grants.ts";
import { limiter } from "../util/limit.ts";
import { workloadId } from "./audit/members.ts";
import { otherPathRequests, permissionText } from "./audit/paths.ts";
import {
  describeBinding,
  grantingBindings,
  namedInRules,
  namespacesReached,
  ruleAllows,
  type RbacRole,
  type Request,
  type ServiceAccountRef,
} from "./audit/rbac.ts";
import { readCluster, type AuditInput } from "./audit/reads.ts";
import { retrying } from "../kube/retry.ts";
import { roleMode, type RoleMode } from "../access/role-pods.ts";
import { OPT_IN_LABEL, OPT_IN_VALUE } from "../access/marks.ts";

export type { Finding, FindingKind } from "./audit/findings.ts";

export interface AuditEntry {
  namespace: string;
  workload: string;
  serviceAccount: string;
  /** The workload's current pods, as the audit itself works them out. */
  pods: string[];
  /** The pod names its managed Role lists for pods/log: the controller's view. */
  roleNames: string[];
  /**
   * names: the Role names the pods; none: it names none (`--role-pod-names=none`, or no pods), so
   * every read is the webhook authorizer's to decide. Absent without a managed Role.
   */
  mode?: RoleMode;
  /** Pods in its namespace whose logs the ServiceAccount can get. */
  readable: string[];
  /** Readable pods outside the workload. */
  overGrants: string[];
  /** Pods of the workload it cannot read (yet). */
  underGrants: string[];
  /** It can read the logs of every pod in the namespace, present and future. */
  namespaceWide: boolean;
}

export interface AuditReport {
  ok: boolean;
  entries: AuditEntry[];
  findings: Finding[];
  /** Findings of access wider than the workload's logs. */
  overGrants: number;
  /** Pods of a workload their ServiceAccount cannot read. */
  underGrants: number;
  /** SubjectAccessReviews asked. */
  reviews: number;
}

export interface AuditOptions {
  /** Only the managed ServiceAccounts of this namespace (bindings anywhere still count). */
  namespace?: string;
  /** Only this managed ServiceAccount (with `namespace`); bindings to people are then not judged. */
  serviceAccount?: string;
  /** SubjectAccessReviews in flight at once. */
  concurrency?: number;
}

export const DEFAULT_CONCURRENCY = 32;

interface Subject {
  sa: ServiceAccountRef;
  workload?: { kind: string; name: string };
  role?: RbacRole;
}

export async function audit(api: KubeApi, options: AuditOptions = {}): Promise<AuditReport> {
  const input = await readCluster(api, options.namespace);
  const limit = limiter(options.concurrency ?? DEFAULT_CONCURRENCY);
  let reviews = 0;
  const can = (sa: ServiceAccountRef, req: Request) =>
    limit(() => {
      reviews++;
      const { namespace, verb, group, resource, subresource, name, labelSelector } = req;
      const selector = labelSelector && {
        requirements: Object.entries(labelSelector).map(([key, value]) => ({ key, operator: "In" as const, values: [value] })),
      };
      return retrying(() =>
        serviceAccountCan(api, sa.namespace, sa.name, {
          namespace,
          verb,
          group,
          resource,
          ...(subresource ? { subresource } : {}),
          ...(name ? { name } : {}),
          ...(selector ? { labelSelector: selector } : {}),
        }),
      );
    });
  const subjects = subjectsOf(input).filter((s) => !options.serviceAccount || s.sa.name === options.serviceAccount);
  const results = await Promise.all(subjects.map((s) => auditOne(input, s, can)));
  // Bindings to people widen what people read, not what this ServiceAccount reaches.
  const toPeople = options.serviceAccount ? [] : grantFindings(input.grants, Date.now());
  const findings = [...results.flatMap((r) => r.findings), ...toPeople];
  const overGrants = findings.filter((f) => f.overGrant).length;
  return {
    ok: overGrants === 0,
    entries: results.map((r) => r.entry),
    findings,
    overGrants,
    underGrants: findings.length - overGrants,
    reviews,
  };
}

/** Every managed Role and ServiceAccount names an account to check, with the workload it serves. */
function subjectsOf(input: AuditInput): Subject[] {
  const subjects = new Map<string, Subject>();
  const add = (meta: { namespace: string; name: string } & Parameters<typeof managedOwner>[0], role?: RbacRole) => {
    const key = `${meta.namespace}/${meta.name}`;
    const owner = managedOwner(meta);
    const s = subjects.get(key) ?? { sa: { namespace: meta.namespace, name: meta.name } };
    if (owner && isWorkloadKind(owner.kind)) s.workload ??= { kind: owner.kind, name: owner.name };
    if (role) s.role = role;
    subjects.set(key, s);
  };
  for (const r of input.managedRoles) add(r.metadata, r.role);
  for (const sa of input.serviceAccounts) add(sa.metadata);
  return [...subjects.values()].sort((a, b) => `${a.sa.namespace}/${a.sa.name}`.localeCompare(`${b.sa.namespace}/${b.sa.name}`));
}

const logRequest = (namespace: string, name?: string): Request => ({
  namespace,
  verb: "get",
  group: "",
  resource: "pods",
  subresource: "log",
  ...(name ? { name } : {}),
});

/** The pod names a managed Role lets its subjects read the logs of. */
function roleLogNames(role: RbacRole | undefined, namespace: string): string[] {
  const names = new Set<string>();
  for (const rule of role?.rules ?? [])
    for (const n of rule.resourceNames ?? []) if (ruleAllows(rule, logRequest(namespace, n))) names.add(n);
  return [...names].sort();
}

type Ask = (sa: ServiceAccountRef, req: Request) => Promise<boolean>;

/** What every check of one ServiceAccount needs to know. */
interface Context {
  input: AuditInput;
  sa: ServiceAccountRef;
  can: Ask;
  /** Its workload's pods, by the audit's own membership. */
  members: Set<string>;
  base: Pick<Finding, "namespace" | "serviceAccount" | "workload">;
  grantedBy: (req: Request) => string[];
}

async function auditOne(input: AuditInput, s: Subject, can: Ask): Promise<{ entry: AuditEntry; findings: Finding[] }> {
  const { sa } = s;
  const own = sa.namespace;
  const w = s.workload && input.membership.workloads.get(workloadId(s.workload.kind, own, s.workload.name));
  const pods = w?.optedIn && w.standalone ? w.pods : [];
  const workload = s.workload ? `${s.workload.kind}/${s.workload.name}` : "unknown";
  const ctx: Context = {
    input,
    sa,
    can,
    members: new Set(pods),
    base: { namespace: own, serviceAccount: sa.name, workload },
    grantedBy: (req) => grantingBindings(input.rbac, sa, req).map(describeBinding),
  };
  const roleNames = roleLogNames(s.role, own);
  const mode = s.role && roleMode(s.role);
  const reached = namespacesReached(input.rbac, sa);
  const [inOwn, elsewhere, other, lists] = await Promise.all([
    ownNamespace(ctx, pods, roleNames, mode),
    logsElsewhere(ctx, reached),
    otherPaths(ctx, [own, ...reached, ""]),
    podLists(ctx, s.role),
  ]);
  return {
    entry: { ...ctx.base, pods, roleNames, ...(mode ? { mode } : {}), ...inOwn.entry },
    findings: [...inOwn.findings, ...elsewhere, ...other, ...lists],
  };
}

/**
 * The lists of pods beyond the workload's that a ServiceAccount must not make, as
 * SubjectAccessReviews: every pod of its namespace, and the pods of every opted-in workload (the
 * opt-in label alone, which is no workload's selector). The review runs the whole authorizer
 * chain, RBAC and the webhook, which allows a list only by a selector within the workload's. Not
 * asked when the managed Role itself grants every pod (`--pod-visibility=namespace`, chosen).
 */
export function podListRequests(namespace: string): Request[] {
  const list: Request = { namespace, verb: "list", group: "", resource: "pods" };
  return [list, { ...list, labelSelector: { [OPT_IN_LABEL]: OPT_IN_VALUE } }];
}

async function podLists(ctx: Context, role: RbacRole | undefined): Promise<Finding[]> {
  const asks = podListRequests(ctx.sa.namespace);
  if (role?.rules?.some((r) => !r.resourceNames?.length && ruleAllows(r, asks[0]!))) return [];
  return allowedFindings(
    ctx,
    asks,
    (req) => req,
    (req) => ({ kind: "pod-list", permission: listText(req), scope: req.namespace }),
  );
}

const listText = (req: Request) =>
  `list pods${
    req.labelSelector
      ? ` -l ${Object.entries(req.labelSelector)
          .map(([k, v]) => `${k}=${v}`)
          .join(",")}`
      : ""
  }`;

/**
 * Its own namespace: the Role's names against the audit's membership (the controller's view
 * against an independent one), then the authorizer about its pods, every pod, and each other name
 * a bound rule singles out.
 */
async function ownNamespace(ctx: Context, pods: string[], roleNames: string[], mode: RoleMode | undefined) {
  const { sa, can, members, base, grantedBy } = ctx;
  const own = sa.namespace;
  const podsHere = ctx.input.membership.podsByNamespace.get(own) ?? new Set<string>();
  const findings: Finding[] = [];
  const log = { permission: LOG_PERMISSION, scope: own };

  const foreignInRole = roleNames.filter((n) => !members.has(n));
  for (const name of foreignInRole) {
    findings.push(
      finding({
        ...base,
        ...log,
        kind: podsHere.has(name) ? "foreign-member" : "stale-name",
        source: "role",
        resourceName: name,
        grantedBy: [],
      }),
    );
  }

  const candidates = [...new Set([...foreignInRole, ...namedInRules(ctx.input.rbac, sa, logRequest(own))])].filter((n) => !members.has(n));
  const [memberReadable, namespaceWide, candidateReadable] = await Promise.all([
    Promise.all(pods.map((p) => can(sa, logRequest(own, p)))),
    can(sa, logRequest(own)),
    Promise.all(candidates.map((n) => can(sa, logRequest(own, n)))),
  ]);
  const underGrants = pods.filter((_, i) => !memberReadable[i]);
  const named = new Set(roleNames);
  const unreadable = new Set(underGrants);
  // A Role that names no pod leaves each read to the webhook: a pod not readable (the webhook
  // absent or down) is not a name missing from the Role, and an under-grant is no over-grant.
  for (const p of mode === "none" ? [] : pods) {
    if (!named.has(p)) findings.push(finding({ ...base, ...log, kind: "missing-name", source: "role", resourceName: p, grantedBy: [] }));
    else if (unreadable.has(p))
      findings.push(finding({ ...base, ...log, kind: "missing-name", source: "authorizer", resourceName: p, grantedBy: [] }));
  }
  if (namespaceWide)
    findings.push(finding({ ...base, ...log, kind: "namespace-wide", source: "authorizer", grantedBy: grantedBy(logRequest(own)) }));
  const readableOthers = candidates.filter((_, i) => candidateReadable[i]);
  const fromRole = new Set(foreignInRole);
  // A name no pod has yet counts too: whoever creates that pod next is read.
  for (const n of readableOthers.filter((n) => !fromRole.has(n))) {
    findings.push(
      finding({ ...base, ...log, kind: "foreign-member", source: "authorizer", resourceName: n, grantedBy: grantedBy(logRequest(own, n)) }),
    );
  }

  const readable = [
    ...new Set([
      ...pods.filter((_, i) => memberReadable[i]),
      ...readableOthers.filter((n) => podsHere.has(n)),
      ...(namespaceWide ? podsHere : []),
    ]),
  ].sort();
  return { entry: { readable, overGrants: readable.filter((p) => !members.has(p)), underGrants, namespaceWide }, findings };
}

/** Pod logs in each other namespace a RoleBinding reaches it from, and in all namespaces at once. */
async function logsElsewhere(ctx: Context, reached: string[]): Promise<Finding[]> {
  const asks = [...reached, ""].flatMap((scope) => [
    logRequest(scope),
    ...namedInRules(ctx.input.rbac, ctx.sa, logRequest(scope)).map((n) => logRequest(scope, n)),
  ]);
  return allowedFindings(
    ctx,
    asks,
    (req) => req,
    (req) => ({
      kind: req.namespace ? "cross-namespace" : "cluster-wide",
      permission: LOG_PERMISSION,
      scope: req.namespace,
      resourceName: req.name,
    }),
  );
}

/** Every other path to logs, identities or RBAC, in each scope it could hold one. */
async function otherPaths(ctx: Context, scopes: string[]): Promise<Finding[]> {
  const asks = otherPathRequests(ctx.input.rbac, ctx.sa, scopes);
  return allowedFindings(
    ctx,
    asks,
    (ask) => ask.req,
    ({ path, req }) => ({
      kind: path.reaches === "identity" ? "other-identity" : "other-path",
      permission: permissionText(req),
      scope: req.namespace,
      resourceName: req.name,
    }),
  );
}

/** What a finding the authorizer allowed says beyond who holds it, where it comes from and which bindings grant it. */
type AllowedFinding = Pick<Finding, "kind" | "permission" | "scope" | "resourceName">;

/**
 * Asks the authorizer each request as the ServiceAccount, and makes a finding of each one it
 * allows, with the bindings that grant it.
 */
async function allowedFindings<T>(
  ctx: Context,
  asks: T[],
  request: (ask: T) => Request,
  describe: (ask: T) => AllowedFinding,
): Promise<Finding[]> {
  const allowed = await Promise.all(asks.map((ask) => ctx.can(ctx.sa, request(ask))));
  return asks
    .filter((_, i) => allowed[i])
    .map((ask) => {
      const { kind, ...rest } = describe(ask);
      return finding({ ...ctx.base, kind, source: "authorizer", ...rest, grantedBy: ctx.grantedBy(request(ask)) });
    });
}
