// What podlogreader reads from the API, validated with valibot. Each schema keeps only the fields
// the controller uses, so the caches hold small objects rather than whole API responses.
import * as v from "valibot";

const OwnerReference = v.object({
  apiVersion: v.string(),
  kind: v.string(),
  name: v.string(),
  uid: v.string(),
  controller: v.optional(v.nullable(v.boolean())),
});
export type OwnerReference = v.InferOutput<typeof OwnerReference>;

const StringMap = v.optional(v.nullable(v.record(v.string(), v.string())));

const ObjectMeta = v.object({
  name: v.pipe(v.string(), v.minLength(1)),
  namespace: v.pipe(v.string(), v.minLength(1)),
  uid: v.pipe(v.string(), v.minLength(1)),
  resourceVersion: v.string(),
  labels: StringMap,
  annotations: StringMap,
  ownerReferences: v.optional(v.nullable(v.array(OwnerReference))),
});
export type ObjectMeta = v.InferOutput<typeof ObjectMeta>;

/** The metadata of any object, enough to identify it and judge who owns it. */
export const PartialObjectMetadata = v.object({ metadata: ObjectMeta });
export type PartialObjectMetadata = v.InferOutput<typeof PartialObjectMetadata>;

export function controllerOf(meta: ObjectMeta): OwnerReference | undefined {
  return meta.ownerReferences?.find((o) => o.controller === true);
}

const PodTemplate = v.optional(
  v.nullable(
    v.object({
      metadata: v.optional(v.nullable(v.object({ labels: StringMap }))),
    }),
  ),
);

/** A label selector (metav1.LabelSelector). */
export const LabelSelector = v.object({
  matchLabels: StringMap,
  matchExpressions: v.optional(
    v.nullable(v.array(v.object({ key: v.string(), operator: v.string(), values: v.optional(v.nullable(v.array(v.string()))) }))),
  ),
});
export type LabelSelector = v.InferOutput<typeof LabelSelector>;

/** Any pod-owning workload: only its metadata, its pod selector and its pod template's labels are kept. */
export const WorkloadSchema = v.object({
  metadata: ObjectMeta,
  spec: v.object({
    replicas: v.optional(v.nullable(v.number())),
    selector: v.optional(v.nullable(LabelSelector)),
    template: PodTemplate,
    jobTemplate: v.optional(v.nullable(v.object({ spec: v.optional(v.nullable(v.object({ template: PodTemplate }))) }))),
  }),
});
export type WorkloadSchema = v.InferOutput<typeof WorkloadSchema>;

const PolicyRule = v.object({
  apiGroups: v.optional(v.nullable(v.array(v.string()))),
  resources: v.optional(v.nullable(v.array(v.string()))),
  verbs: v.array(v.string()),
  resourceNames: v.optional(v.nullable(v.array(v.string()))),
  nonResourceURLs: v.optional(v.nullable(v.array(v.string()))),
});
export type PolicyRule = v.InferOutput<typeof PolicyRule>;

export const Role = v.object({
  metadata: ObjectMeta,
  rules: v.optional(v.nullable(v.array(PolicyRule))),
});
export type Role = v.InferOutput<typeof Role>;

const Subject = v.object({
  kind: v.string(),
  name: v.string(),
  namespace: v.optional(v.nullable(v.string())),
  apiGroup: v.optional(v.nullable(v.string())),
});

export const RoleBinding = v.object({
  metadata: ObjectMeta,
  roleRef: v.object({ apiGroup: v.string(), kind: v.string(), name: v.string() }),
  subjects: v.optional(v.nullable(v.array(Subject))),
});
export type RoleBinding = v.InferOutput<typeof RoleBinding>;

/** Validates what the API returned; a malformed object is an error that names what was read. */
export function parseObject<S extends v.GenericSchema>(schema: S, raw: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, raw);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue.path?.map((p: { key: unknown }) => String(p.key)).join(".") ?? "";
  throw new Error(`unexpected ${what} from the API: ${path ? `${path}: ` : ""}${issue.message}`);
}
