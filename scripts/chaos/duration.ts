// CHAOS_DURATION and the other durations of the chaos runner's flags, read as Go reads them.
import { DurationError, parseGoDuration } from "../../src/util/go-duration.ts";

/** A Go-style duration such as "500ms", "2s", "1m30s" or "0" in milliseconds; undefined when it does not parse or is negative. */
export function parseDuration(text: string): number | undefined {
  try {
    const ms = parseGoDuration(text);
    return ms < 0 ? undefined : ms;
  } catch (err) {
    if (err instanceof DurationError) return undefined;
    throw err;
  }
}
