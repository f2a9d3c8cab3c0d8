/**
 * Writes to standard output and resolves once the text is handed to the OS. The process exits
 * right after a command returns, and an exit drops whatever a pipe has not taken yet (a long JSON
 * report was cut at 64 KiB).
 */
export function writeStdout(text: string): Promise<void> {
  const line = text.endsWith("\n") ? text : `${text}\n`;
  return new Promise((resolve, reject) => process.stdout.write(line, (err) => (err ? reject(err) : resolve())));
}
