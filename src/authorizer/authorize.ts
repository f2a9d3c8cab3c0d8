// One review, end to end: parse, ask, gather what the decision needs, decide. Every failure on
// the way is NoOpinion, with the reason for the log.
import { askOf, decide, namedByABinding, type Ask, type Decision, type Evidence, type View } from "./decide.ts";
import { parseReview } from "./review.ts";
import { messageOf } from "../util/errors.ts";

/** The decision, what was asked (none when the review was not one the authorizer answers), and whether deciding failed. */
export type Outcome = Decision & { ask?: Ask["kind"]; failed?: boolean };

export async function authorize(raw: unknown, gather: (ask: Ask) => Promise<Evidence>, view: View, now: () => number): Promise<Outcome> {
  let ask: Ask | undefined;
  try {
    const review = parseReview(raw);
    if (!review) return { allowed: false, reason: "not a SubjectAccessReview v1" };
    ask = askOf(review);
    if (!ask) return { allowed: false, reason: "not a request podlogreader answers" };
    if (!namedByABinding(view, ask))
      return { allowed: false, reason: `${ask.user} is bound to no workload's Role in ${ask.namespace}`, ask: ask.kind };
    return { ...decide(ask, await gather(ask), view, now()), ask: ask.kind };
  } catch (err) {
    return { allowed: false, reason: `no opinion: ${messageOf(err)}`, ask: ask?.kind, failed: true };
  }
}
