import { describe, expect, test } from "bun:test";
import { isManagedFor } from "../../../src/access/ownership.ts";
import type { ObjectMeta } from "../../../src/kube/objects.ts";

const web = { kind: "Deployment", name: "web" } as const;
const label = { "app.kubernetes.io/managed-by": "podlogreader" };
const owner = (over: object = {}) => [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "u1", controller: true, ...over }];
const meta = (m: Partial<ObjectMeta>): ObjectMeta => ({ name: "podlogreader-web", namespace: "ns", uid: "x", resourceVersion: "1", ...m });

describe("isManagedFor: only objects with podlogreader's marks are ever touched", () => {
  test.each([
    ["label and controller reference", meta({ labels: label, ownerReferences: owner() }), true],
    ["a stale owner UID (the Deployment was recreated)", meta({ labels: label, ownerReferences: owner({ uid: "old" }) }), true],
    [
      "label and annotation, after garbage collection orphaned it",
      meta({ labels: label, annotations: { "podlogreader.dev/workload": "Deployment/web" } }),
      true,
    ],
    ["no label", meta({ ownerReferences: owner(), annotations: { "podlogreader.dev/workload": "Deployment/web" } }), false],
    ["another manager's label", meta({ labels: { "app.kubernetes.io/managed-by": "helm" }, ownerReferences: owner() }), false],
    ["an owner of another name", meta({ labels: label, ownerReferences: owner({ name: "api" }) }), false],
    ["an owner of another kind", meta({ labels: label, ownerReferences: owner({ kind: "StatefulSet" }) }), false],
    ["an owner of another API group", meta({ labels: label, ownerReferences: owner({ apiVersion: "example.com/v1" }) }), false],
    ["a non-controller owner only", meta({ labels: label, ownerReferences: owner({ controller: false }) }), false],
    [
      "an annotation naming another workload",
      meta({ labels: label, annotations: { "podlogreader.dev/workload": "Deployment/api" } }),
      false,
    ],
    ["nothing at all", meta({}), false],
  ])("%s: %p", (_, m, expected) => {
    expect(isManagedFor(m, web)).toBe(expected);
  });
});
