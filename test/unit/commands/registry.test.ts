// The registry of commands: one list drives dispatch, the program's help and shell completion,
// so a command or flag cannot be reachable by one and missing from another.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { completionScript, parseCompletion } from "../../../src/commands/completion.ts";
import { COMMANDS, programHelp, splitCommand } from "../../../src/commands/registry.ts";
import { UsageError } from "../../../src/flags/parse.ts";

/** What bash's completion offers after `words`, the last one being the word under the cursor. */
function complete(words: string[]): string[] {
  const script = `${completionScript("bash", COMMANDS)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _podlogreader; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const run = spawnSync("bash", ["-c", script], { encoding: "utf8" });
  expect(run.stderr).toBe("");
  return run.stdout.split("\n").filter(Boolean);
}

describe("the registry", () => {
  test("names each command once, and the program's help lists every one with what it does", () => {
    const names = COMMANDS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    const help = programHelp();
    for (const c of COMMANDS) expect(help).toContain(`${c.name === "run" ? "[run]" : c.name} ${c.args}`.trim());
    for (const c of COMMANDS) expect(help).toContain(c.does);
  });

  test("dispatch finds every command after kubectl's global flags, and takes anything else as run's flags", () => {
    for (const c of COMMANDS) expect(splitCommand(["-n", "ns", c.name, "-h"])).toEqual({ command: c.name, args: ["-h", "-n", "ns"] });
    expect(splitCommand(["--workers", "2"])).toEqual({ command: "run", args: ["--workers", "2"] });
    expect(splitCommand(["no-such-command"])).toEqual({ command: "run", args: ["no-such-command"] });
  });

  test("every command's --help names each of its flags", () => {
    for (const c of COMMANDS) for (const f of Object.values(c.flags)) expect(c.help("podlogreader")).toContain(`--${f.name}`);
  });
});

describe("podlogreader completion", () => {
  test("bash completes the command names", () => {
    expect(complete(["podlogreader", "gra"])).toEqual(["grant", "grants"]);
    expect(complete(["podlogreader", ""]).sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  test.each(COMMANDS.map((c) => [c.name, c] as const))("bash completes every flag of %s, after global flags too", (_, c) => {
    const offered = complete(["podlogreader", "-n", "ns", c.name, "--"]);
    expect(offered.sort()).toEqual(
      Object.values(c.flags)
        .map((f) => `--${f.name}`)
        .sort(),
    );
  });

  test("without a command word the flags are run's, since run is the default", () => {
    expect(complete(["podlogreader", "--role-pod"])).toEqual(["--role-pod-names"]);
  });

  test("zsh gets the same function, loaded through zsh's bashcompinit", () => {
    expect(completionScript("zsh", COMMANDS)).toBe(`autoload -U +X bashcompinit && bashcompinit\n${completionScript("bash", COMMANDS)}`);
  });

  test("a shell it does not write for is a usage error", () => {
    expect(parseCompletion(["bash"])).toEqual({ shell: "bash" });
    expect(() => parseCompletion([])).toThrow(new UsageError("completion needs a shell: bash or zsh"));
    expect(() => parseCompletion(["fish"])).toThrow('"fish" is not a shell this command writes for: bash or zsh');
  });
});
