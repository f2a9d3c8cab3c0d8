// Objects the harness made under names podlogreader would use, without podlogreader's marks.
// Each is kept exactly as the apiserver returned it at creation; podlogreader must never change it.
import type { KubeApi } from "../../src/kube/api.ts";
import { RoleBindings, Roles, ServiceAccounts } from "../../src/kube/resources.ts";
import { getRaw, retrying } from "./kube.ts";

export interface ForeignObject {
  objectKind: "Role" | "RoleBinding" | "ServiceAccount";
  namespace: string;
  name: string;
  /** The full JSON of the object as created, field for field. */
  raw: string;
  createdByOp: number;
}

export interface ForeignChange {
  object: ForeignObject;
  /** The object as found, or undefined when it was deleted. */
  found: string | undefined;
  opIndex: number;
}

const resourceOf = (k: ForeignObject["objectKind"]) => (k === "Role" ? Roles : k === "RoleBinding" ? RoleBindings : ServiceAccounts);
const keyOf = (k: string, ns: string, name: string) => `${k}/${ns}/${name}`;

export class ForeignRecord {
  private readonly objects = new Map<string, ForeignObject>();
  checks = 0;
  /** Every change found, in order. */
  readonly changes: ForeignChange[] = [];

  add(o: ForeignObject): void {
    this.objects.set(keyOf(o.objectKind, o.namespace, o.name), o);
  }

  get(kind: ForeignObject["objectKind"], namespace: string, name: string): ForeignObject | undefined {
    return this.objects.get(keyOf(kind, namespace, name));
  }

  get size(): number {
    return this.objects.size;
  }

  /** Every recorded object that no longer reads exactly as created. */
  async changed(api: KubeApi, opIndex: number): Promise<ForeignChange[]> {
    const changes: ForeignChange[] = [];
    for (const o of this.objects.values()) {
      const change = await this.compare(api, o, opIndex);
      if (change) changes.push(change);
    }
    return changes;
  }

  private async compare(api: KubeApi, o: ForeignObject, opIndex: number): Promise<ForeignChange | undefined> {
    this.checks++;
    const found = await getRaw(api, resourceOf(o.objectKind), o.namespace, o.name);
    if (found === o.raw) return undefined;
    // A changed object is reported once, then forgotten so it does not repeat in every burst.
    this.objects.delete(keyOf(o.objectKind, o.namespace, o.name));
    const change = { object: o, found, opIndex };
    this.changes.push(change);
    return change;
  }

  /** Checks the object one last time, then deletes exactly that version. */
  async verifyThenDelete(api: KubeApi, o: ForeignObject, opIndex: number): Promise<ForeignChange | undefined> {
    const change = await this.compare(api, o, opIndex);
    if (change) return change;
    const { metadata } = JSON.parse(o.raw) as { metadata: { uid: string; resourceVersion: string } };
    await retrying(() =>
      api.delete(resourceOf(o.objectKind), o.namespace, o.name, { uid: metadata.uid, resourceVersion: metadata.resourceVersion }),
    );
    this.objects.delete(keyOf(o.objectKind, o.namespace, o.name));
    return undefined;
  }
}
