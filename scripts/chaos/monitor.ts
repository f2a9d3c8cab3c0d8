// Watches the chaos namespaces while operations run, and records every window in which a
// ServiceAccount could read the log of a pod outside its workload (over-grant), and in which it
// could not read one of its workload's pods (under-grant). The watched Roles and RoleBindings only
// say where to look: an over-grant window opens when SubjectAccessReview says allowed and closes
// when it says denied or the pod is gone. Under-grant windows are measured from the watched
// objects (a pod owed, and the Role not yet naming it), which is what a reader would experience.
// A stale-grant window is a pod's name still readable, on the authorizer's word, after the pod was
// seen to go and while no pod of that name exists: it opens when the pod went, and the grant is
// proven to have lasted until the last question answered "allowed" was sent.
import type { KubeApi } from "../../src/kube/api.ts";
import type { Authorizer } from "./authorizer.ts";
import { Mirror } from "./mirror.ts";
import { expectations, predictedReadable, type Snapshot } from "./model.ts";
import { RESOURCES, snapshotOf, type Objects, type ResourceName } from "./snapshot.ts";
import { getOrCreate } from "../../src/util/maps.ts";

export interface Window {
  kind: "over-grant" | "under-grant" | "stale-grant";
  namespace: string;
  serviceAccount: string;
  pod: string;
  podUid: string;
  /** The last operation started before the window opened. */
  opIndex: number;
  startedAt: number;
  /** Over- and stale-grant windows: when the last question answered "allowed" was sent. */
  lastAllowedAt?: number;
  endedAt?: number;
  /** Milliseconds; for a window still open at the end, until the end of the run. */
  durationMs?: number;
}

const TICK_MS = 250;

export class Monitor {
  private readonly mirrors: Map<ResourceName, Mirror>;
  private readonly abort = new AbortController();
  private readonly open = new Map<string, Window>();
  readonly closed: Window[] = [];
  private handedOut = 0;
  /** Who the Roles and RoleBindings suggested could read each live pod at the last tick, for when it goes. */
  private readonly lastReaders = new Map<string, Set<string>>();
  /** The operation index the harness is at; windows are tagged with it. */
  opIndex = -1;
  private loop: Promise<void> | undefined;
  ticks = 0;

  constructor(
    api: KubeApi,
    private readonly authorizer: Authorizer,
    private readonly namespaces: string[],
    private readonly serviceAccounts: (namespace: string) => string[],
    private readonly nameOf: Parameters<typeof expectations>[2],
    /** False with --role-pod-names=none: the Roles name no pod, so they say nothing of under-grants. */
    private readonly rolesNamePods = true,
  ) {
    const scope = new Set(namespaces);
    this.mirrors = new Map((Object.keys(RESOURCES) as ResourceName[]).map((n) => [n, new Mirror(api, RESOURCES[n], scope)]));
  }

  async start(): Promise<void> {
    await Promise.all([...this.mirrors.values()].map((m) => m.start(this.abort.signal)));
    this.loop = (async () => {
      while (!this.abort.signal.aborted) {
        try {
          await this.tick();
        } catch {
          // An authorizer question that failed after retries: the next tick asks again.
        }
        await Bun.sleep(TICK_MS);
      }
    })();
  }

  get watchRestarts(): number {
    return [...this.mirrors.values()].reduce((n, m) => n + m.restarts, 0);
  }

  /** Windows closed since the last call. */
  newlyClosed(): Window[] {
    const out = this.closed.slice(this.handedOut);
    this.handedOut = this.closed.length;
    return out;
  }

  /** Every ServiceAccount a RoleBinding of the namespace names, with the pod names the bindings suggest it reads. */
  private readers(snap: Snapshot): Map<string, Set<string>> {
    const byPod = new Map<string, Set<string>>();
    const subjects = new Set(
      snap.roleBindings.flatMap((b) =>
        (b.subjects ?? [])
          .filter((x) => x.kind === "ServiceAccount" && (x.namespace ?? snap.namespace) === snap.namespace)
          .map((x) => x.name),
      ),
    );
    for (const sa of subjects) {
      for (const name of predictedReadable(snap, sa).names) {
        getOrCreate(byPod, name, () => new Set()).add(sa);
      }
    }
    return byPod;
  }

  /** Asks about every name of a pod that went, whoever could read it then or seems to now, and keeps the stale-grant windows. */
  private async staleGrants(ns: string, snap: Snapshot, podUid: Map<string, string>, seen: Set<string>): Promise<void> {
    const readers = this.readers(snap);
    for (const pod of podUid.keys()) this.lastReaders.set(`${ns}\0${pod}`, readers.get(pod) ?? new Set());
    for (const [pod, goneAt] of this.mirrors.get("Pod")!.gone(ns)) {
      if (podUid.has(pod)) continue;
      const prefix = `stale-grant\0${ns}\0`;
      // Who could read it while it was there, asked once, right after it went: allowed then, the
      // grant has held since the pod went. A grant of the name found later (a hand edit, a
      // deposed leader's write) is counted from the first time it is found.
      const held = this.lastReaders.get(`${ns}\0${pod}`) ?? new Set<string>();
      this.lastReaders.delete(`${ns}\0${pod}`);
      const candidates = new Set([...(readers.get(pod) ?? []), ...held]);
      for (const [key, w] of this.open) if (key.startsWith(prefix) && w.pod === pod) candidates.add(w.serviceAccount);
      for (const sa of candidates) {
        const key = `${prefix}${sa}\0${pod}\0${goneAt}`;
        const asked = Date.now();
        if (!(await this.authorizer.canReadLog(ns, sa, pod))) continue;
        seen.add(key);
        const window = this.open.get(key);
        if (window) window.lastAllowedAt = asked;
        else
          this.open.set(key, {
            kind: "stale-grant",
            namespace: ns,
            serviceAccount: sa,
            pod,
            podUid: "",
            opIndex: this.opIndex,
            startedAt: held.has(sa) ? goneAt : asked,
            lastAllowedAt: asked,
          });
      }
    }
  }

  private async tick(): Promise<void> {
    this.ticks++;
    const now = () => Date.now();
    const seen = new Set<string>();
    for (const ns of this.namespaces) {
      const objects = Object.fromEntries([...this.mirrors].map(([n, m]) => [n, m.in(ns)])) as Objects;
      const snap = snapshotOf(ns, objects);
      const podUid = new Map(snap.pods.map((p) => [p.metadata!.name!, p.metadata!.uid!]));
      await this.staleGrants(ns, snap, podUid, seen);
      for (const e of expectations(snap, this.serviceAccounts(ns), this.nameOf).values()) {
        const predicted = predictedReadable(snap, e.serviceAccount);
        for (const [pod, uid] of podUid) {
          const readable = predicted.all || predicted.names.has(pod);
          const over = readable && !e.mayRead.has(pod);
          const under = this.rolesNamePods && !readable && e.mustRead.has(pod);
          for (const [kind, suspected] of [
            ["over-grant", over],
            ["under-grant", under],
          ] as const) {
            const key = `${kind}\0${ns}\0${e.serviceAccount}\0${pod}\0${uid}`;
            const window = this.open.get(key);
            if (kind === "over-grant" && (suspected || window)) {
              // Opened and closed only on the authorizer's word.
              const asked = now();
              const allowed = await this.authorizer.canReadLog(ns, e.serviceAccount, pod);
              if (allowed && !e.mayRead.has(pod)) {
                seen.add(key);
                if (window) window.lastAllowedAt = asked;
                else
                  this.open.set(key, {
                    kind,
                    namespace: ns,
                    serviceAccount: e.serviceAccount,
                    pod,
                    podUid: uid,
                    opIndex: this.opIndex,
                    startedAt: asked,
                    lastAllowedAt: asked,
                  });
              }
              continue;
            }
            if (suspected) {
              seen.add(key);
              if (!window)
                this.open.set(key, {
                  kind,
                  namespace: ns,
                  serviceAccount: e.serviceAccount,
                  pod,
                  podUid: uid,
                  opIndex: this.opIndex,
                  startedAt: now(),
                });
            }
          }
        }
      }
    }
    for (const [key, w] of this.open) {
      if (seen.has(key)) continue;
      this.open.delete(key);
      this.closed.push({ ...w, endedAt: now(), durationMs: now() - w.startedAt });
    }
  }

  /** Stops watching; windows still open are closed at this moment. */
  async stop(): Promise<Window[]> {
    this.abort.abort();
    await this.loop;
    const end = Date.now();
    for (const w of this.open.values()) this.closed.push({ ...w, durationMs: end - w.startedAt });
    this.open.clear();
    return this.closed;
  }
}
