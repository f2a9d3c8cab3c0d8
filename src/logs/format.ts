// How a log line is printed: `[pod/POD/CONTAINER] ` (kubectl's --prefix form), coloured per pod
// and container when the output is a terminal.
import { styleText } from "node:util";

type Colour = Parameters<typeof styleText>[0];
const POD_COLOURS: Colour[] = [
  "cyan",
  "green",
  "magenta",
  "yellow",
  "blue",
  "red",
  "cyanBright",
  "greenBright",
  "magentaBright",
  "yellowBright",
  "blueBright",
  "redBright",
];
const CONTAINER_COLOURS: Colour[] = ["gray", "white", "cyanBright", "yellowBright"];

/** Colour on a terminal, unless NO_COLOR is set to anything non-empty (no-color.org). */
export function useColour(isTTY: boolean | undefined, env: Record<string, string | undefined>): boolean {
  return isTTY === true && !env.NO_COLOR;
}

/** A stable choice of colour for a name, so a pod keeps its colour across reconnects. */
function pick(colours: Colour[], name: string): Colour {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) >>> 0;
  return colours[hash % colours.length]!;
}

export function linePrefix(pod: string, container: string, colour: boolean): string {
  if (!colour) return `[pod/${pod}/${container}] `;
  const paint = (c: Colour, s: string) => styleText(c, s, { validateStream: false });
  return `[${paint(pick(POD_COLOURS, pod), `pod/${pod}`)}/${paint(pick(CONTAINER_COLOURS, container), container)}] `;
}

/**
 * Splits a line read with `timestamps=true` into the kubelet's RFC 3339 timestamp and the text.
 * A line without one (never sent by a kubelet) is all text.
 */
export function splitTimestamp(line: string): { timestamp?: string; text: string } {
  const space = line.indexOf(" ");
  const head = space > 0 ? line.slice(0, space) : "";
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(head)) return { text: line };
  return { timestamp: head, text: line.slice(space + 1) };
}

/** Nanoseconds since the epoch as a bigint, to order kubelet timestamps exactly. */
export function timestampNanos(timestamp: string): bigint | undefined {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(timestamp);
  if (!m) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  const fraction = (m[2] ?? "").padEnd(9, "0").slice(0, 9);
  return BigInt(seconds) * 1_000_000n + BigInt(fraction);
}
