// The shapes in which the apiserver refuses podlogreader's writes during a refusal period, as data:
// which operations on which managed objects are refused, by what (a ValidatingAdmissionPolicy, or
// the chaos process's own webhook answering a given status code or hanging until the apiserver's
// timeout), and what follows from that for the judge: which writes that end a grant are still let
// through (the ways out), what the checks at quiescence excuse, and how long a grant may outlive
// its reason. Pure: no I/O.

export type Operation = "CREATE" | "UPDATE" | "DELETE";
export type ManagedResource = "roles" | "rolebindings" | "serviceaccounts";

/**
 * - growth: an UPDATE of a Role that adds a pod name (a write that only shrinks passes);
 * - role-writes: every CREATE, UPDATE and DELETE of a Role;
 * - deletes: every DELETE of a Role, RoleBinding or ServiceAccount;
 * - binding-updates: every UPDATE of a RoleBinding;
 * - no-way-out: every write of a Role, and every UPDATE and DELETE of a RoleBinding: nothing can
 *   take a grant away, so the controller can only say so.
 */
export type Shape = "growth" | "role-writes" | "deletes" | "binding-updates" | "no-way-out";
export const POLICY_SHAPES: Shape[] = ["growth", "role-writes", "deletes", "binding-updates", "no-way-out"];
/** The webhook refuses these; a growth check in a webhook would only repeat the policy's. */
export const WEBHOOK_SHAPES: Shape[] = ["role-writes", "deletes", "binding-updates"];

/** "policy": a ValidatingAdmissionPolicy (403); a number: the webhook refuses with that status code; "hang": the webhook never answers. */
export type Answer = "policy" | 409 | 404 | 429 | 500 | "hang";
export const WEBHOOK_ANSWERS: Answer[] = [409, 404, 429, 500, "hang"];

export interface Refusal {
  shape: Shape;
  answer: Answer;
}

/** The webhook's timeoutSeconds: how long the apiserver waits on the hanging webhook before refusing. */
export const HANG_TIMEOUT_SECONDS = 2;

/** The names of the chaos policy and webhook begin with this. */
export const REFUSAL_MARK = "chaos-refuse";

/**
 * Whether an apiserver error's text is a refusal by the chaos policy or webhook: a denial, or a
 * call to the webhook that failed (it hung), naming them. A message that merely names them (the
 * webhook configuration itself found invalid, say) is not.
 */
export function isRefusalText(message: string): boolean {
  return message.includes(REFUSAL_MARK) && (message.includes("denied") || message.includes("failed calling webhook"));
}

const ALL: Operation[] = ["CREATE", "UPDATE", "DELETE"];

export function refusedOperations(shape: Shape): { resource: ManagedResource; operations: Operation[] }[] {
  switch (shape) {
    case "growth":
      return [{ resource: "roles", operations: ["UPDATE"] }];
    case "role-writes":
      return [{ resource: "roles", operations: ALL }];
    case "deletes":
      return [
        { resource: "roles", operations: ["DELETE"] },
        { resource: "rolebindings", operations: ["DELETE"] },
        { resource: "serviceaccounts", operations: ["DELETE"] },
      ];
    case "binding-updates":
      return [{ resource: "rolebindings", operations: ["UPDATE"] }];
    case "no-way-out":
      return [
        { resource: "roles", operations: ALL },
        { resource: "rolebindings", operations: ["UPDATE", "DELETE"] },
      ];
  }
}

/** Whether every such write is refused (a growth refusal lets a write through that only shrinks). */
export function refusesAll(shape: Shape, resource: ManagedResource, operation: Operation): boolean {
  if (shape === "growth") return false;
  return refusedOperations(shape).some((r) => r.resource === resource && r.operations.includes(operation));
}

export function refusesAny(shape: Shape, resource: ManagedResource, operation: Operation): boolean {
  return refusedOperations(shape).some((r) => r.resource === resource && r.operations.includes(operation));
}

/** The writes that end a grant: the Role shrunk or deleted, the binding emptied or deleted. */
const REVOCATIONS: { resource: ManagedResource; operation: Operation; what: string }[] = [
  { resource: "roles", operation: "UPDATE", what: "the Role shrunk" },
  { resource: "roles", operation: "DELETE", what: "the Role deleted" },
  { resource: "rolebindings", operation: "UPDATE", what: "the binding's subjects emptied" },
  { resource: "rolebindings", operation: "DELETE", what: "the binding deleted" },
];

/** The writes that end a grant and that the shape lets through. */
export function waysOut(shape: Shape): string[] {
  return REVOCATIONS.filter((r) => !refusesAll(shape, r.resource, r.operation)).map((r) => r.what);
}

/**
 * Whether a grant can always be ended: a Role that is no longer podlogreader's (taken over) may
 * not be touched, so its binding must be emptied or deleted; a stale name can go either way.
 */
export function hasWayOut(shape: Shape): boolean {
  return !refusesAll(shape, "rolebindings", "UPDATE") || !refusesAll(shape, "rolebindings", "DELETE");
}

/**
 * What no controller can mend at quiescence while the shape is in force, so the checks that read
 * the objects do not ask it: access may always be cut (under-grants); a Role that cannot be
 * written or an object that cannot be deleted can hold up the cleanup and keep names of pods that
 * are gone (they must then be unbound instead, which the authorizer judges). Over-grants, stale
 * grants and foreign Roles still bound are excused only when there is no way out, and then the
 * controller must report the refusal.
 */
export function excusedChecks(shape: Shape): Set<string> {
  const excused = new Set(["under-grant"]);
  const blocksCleanup =
    refusesAll(shape, "roles", "UPDATE") ||
    refusesAll(shape, "roles", "CREATE") ||
    (["roles", "rolebindings", "serviceaccounts"] as const).some((r) => refusesAny(shape, r, "DELETE"));
  if (blocksCleanup) for (const c of ["stale-name", "orphan", "missing-service-account"]) excused.add(c);
  if (!hasWayOut(shape)) for (const c of ["over-grant", "stale-grant", "foreign-role-grant"]) excused.add(c);
  return excused;
}

/** Refused writes a controller may have to try before one gets through: the full write, the shrink, then the binding. */
export const REFUSED_STEPS = 3;

/**
 * How long a grant may outlive its reason while this refusal is in force: the reaction time, plus the apiserver's wait on every refused
 * step when the webhook hangs.
 */
export function allowanceMs(refusal: Refusal | undefined, reactionMs: number): number {
  return reactionMs + (refusal?.answer === "hang" ? REFUSED_STEPS * HANG_TIMEOUT_SECONDS * 1000 : 0);
}

export function describeRefusal(r: Refusal): string {
  const by =
    r.answer === "policy"
      ? "admission policy"
      : r.answer === "hang"
        ? `webhook hanging past ${HANG_TIMEOUT_SECONDS}s`
        : `webhook answering ${r.answer}`;
  return `${r.shape} (${by})`;
}
