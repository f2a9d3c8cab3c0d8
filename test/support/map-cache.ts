import type { ObjectCache } from "../../src/controller/reconciler.ts";

type Named = { metadata: { namespace: string; name: string } };

/** The reconciler's object cache over a Map: writes keep what the fake apiserver answered. */
export class MapCache<T extends Named> implements ObjectCache<T> {
  readonly objects = new Map<string, T>();
  constructor(initial: (T | undefined)[] = []) {
    for (const o of initial) if (o) this.objects.set(`${o.metadata.namespace}/${o.metadata.name}`, o);
  }
  get(namespace: string, name: string) {
    return this.objects.get(`${namespace}/${name}`);
  }
  async write(namespace: string, name: string, send: () => Promise<T>) {
    const obj = await send();
    this.objects.set(`${namespace}/${name}`, obj);
    return obj;
  }
  forget(namespace: string, name: string) {
    this.objects.delete(`${namespace}/${name}`);
  }
}
