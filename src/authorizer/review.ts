// The SubjectAccessReview (authorization.k8s.io/v1) the apiserver's webhook authorizer sends, read
// with valibot: only the fields the decision uses. Anything else is not a review.
import * as v from "valibot";
import type { Requirement } from "../access/selector.ts";

export type { Requirement };

const RequirementSchema: v.GenericSchema<unknown, Requirement> = v.object({
  key: v.pipe(v.string(), v.minLength(1)),
  operator: v.picklist(["In", "NotIn", "Exists", "DoesNotExist"]),
  values: v.optional(v.nullable(v.array(v.string()))),
});

const Selector = v.optional(
  v.nullable(
    v.object({
      rawSelector: v.optional(v.nullable(v.string())),
      requirements: v.optional(v.nullable(v.array(RequirementSchema))),
    }),
  ),
);

const ResourceAttributes = v.object({
  namespace: v.optional(v.nullable(v.string())),
  verb: v.optional(v.nullable(v.string())),
  group: v.optional(v.nullable(v.string())),
  version: v.optional(v.nullable(v.string())),
  resource: v.optional(v.nullable(v.string())),
  subresource: v.optional(v.nullable(v.string())),
  name: v.optional(v.nullable(v.string())),
  labelSelector: Selector,
  fieldSelector: Selector,
});

export const SubjectAccessReview = v.object({
  apiVersion: v.literal("authorization.k8s.io/v1"),
  kind: v.literal("SubjectAccessReview"),
  spec: v.object({
    resourceAttributes: v.optional(v.nullable(ResourceAttributes)),
    nonResourceAttributes: v.optional(v.nullable(v.unknown())),
    user: v.optional(v.nullable(v.string())),
    groups: v.optional(v.nullable(v.array(v.string()))),
    uid: v.optional(v.nullable(v.string())),
  }),
});
export type SubjectAccessReview = v.InferOutput<typeof SubjectAccessReview>;

/** The review, or undefined when `raw` is not a SubjectAccessReview v1. */
export function parseReview(raw: unknown): SubjectAccessReview | undefined {
  const result = v.safeParse(SubjectAccessReview, raw);
  return result.success ? result.output : undefined;
}

/** What the webhook answers: the review with a status. There is no "denied": only allowed or no opinion. */
export function reviewResponse(allowed: boolean, reason: string) {
  return { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", status: { allowed, reason } };
}
