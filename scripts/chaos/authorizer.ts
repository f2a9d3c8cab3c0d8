// Asking the apiserver's authorizer, many questions at a time: may this ServiceAccount get the
// log of this pod? This, never a Role read back, is what every reported grant rests on.
import type { KubeApi } from "../../src/kube/api.ts";
import { serviceAccountCan } from "../../src/kube/access-review.ts";
import { SubjectAccessReviews } from "../../src/kube/resources.ts";
import { subjectText, type GrantSubject } from "./grants.ts";
import { retrying } from "./kube.ts";

export class Authorizer {
  reviews = 0;
  constructor(
    private readonly api: KubeApi,
    private readonly concurrency = 12,
  ) {}

  canReadLog(namespace: string, serviceAccount: string, pod: string): Promise<boolean> {
    this.reviews++;
    return retrying(() =>
      serviceAccountCan(this.api, namespace, serviceAccount, { verb: "get", resource: "pods", subresource: "log", name: pod }),
    );
  }

  /** May this user, or a member of this group (and nothing else), get the log of this pod? */
  subjectCanReadLog(namespace: string, subject: GrantSubject, pod: string): Promise<boolean> {
    this.reviews++;
    const who = subject.kind === "User" ? { user: subject.name } : { groups: [subject.name] };
    return retrying(async () => {
      const review = (await this.api.review(SubjectAccessReviews, {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: { ...who, resourceAttributes: { namespace, verb: "get", resource: "pods", subresource: "log", name: pod } },
      })) as { status?: { allowed?: boolean } };
      return review.status?.allowed === true;
    });
  }

  /** Answers for every (ServiceAccount, pod) pair, keyed `sa\0pod`. */
  matrix(namespace: string, serviceAccounts: string[], pods: string[]): Promise<Map<string, boolean>> {
    return this.ask(
      serviceAccounts.flatMap((sa) => pods.map((pod) => [sa, pod] as const)),
      ([sa, pod]) => this.canReadLog(namespace, sa, pod),
    );
  }

  /** Answers for each (user or group, pod) pair, keyed `user:NAME\0pod` or `group:NAME\0pod`. */
  subjectMatrix(namespace: string, pairs: (readonly [GrantSubject, string])[]): Promise<Map<string, boolean>> {
    return this.ask(
      pairs.map(([subject, pod]) => [subjectText(subject), pod, subject] as const),
      ([, pod, subject]) => this.subjectCanReadLog(namespace, subject, pod),
    );
  }

  private async ask<P extends readonly [string, string, ...unknown[]]>(
    pairs: P[],
    question: (pair: P) => Promise<boolean>,
  ): Promise<Map<string, boolean>> {
    const answers = new Map<string, boolean>();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(this.concurrency, pairs.length) }, async () => {
        while (next < pairs.length) {
          const pair = pairs[next++]!;
          answers.set(`${pair[0]}\0${pair[1]}`, await question(pair));
        }
      }),
    );
    return answers;
  }
}
