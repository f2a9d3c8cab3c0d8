// What a caught value says, whatever was thrown.

/** The message of an Error, or the thrown value as text. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
