// Asking the apiserver's authorizer, many questions at a time: may this ServiceAccount get the
// log of this pod? This, never a Role read back, is what every reported grant rests on.
import type { KubeApi } from "../../src/kube/api.ts";
import { serviceAccountCan } from "../../src/kube/access-review.ts";
import { retrying } from "./kube.ts";

export class Authorizer {
  reviews = 0;
  constructor(private readonly api: KubeApi, private readonly concurrency = 12) {}

  canReadLog(namespace: string, serviceAccount: string, pod: string): Promise<boolean> {
    this.reviews++;
    return retrying(() => serviceAccountCan(this.api, namespace, serviceAccount, { verb: "get", resource: "pods", subresource: "log", name: pod }));
  }

  /** Answers for every (ServiceAccount, pod) pair, keyed `sa\0pod`. */
  async matrix(namespace: string, serviceAccounts: string[], pods: string[]): Promise<Map<string, boolean>> {
    const pairs = serviceAccounts.flatMap((sa) => pods.map((pod) => [sa, pod] as const));
    const answers = new Map<string, boolean>();
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(this.concurrency, pairs.length) }, async () => {
      while (next < pairs.length) {
        const [sa, pod] = pairs[next++]!;
        answers.set(`${sa}\0${pod}`, await this.canReadLog(namespace, sa, pod));
      }
    }));
    return answers;
  }
}
