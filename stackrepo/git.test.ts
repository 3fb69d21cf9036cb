// commitFile against a real repository: a new file, a change, no change, a deletion, and whom each commit is from.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { commitFile, createGit } from "./git.js";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("commitFile", () => {
  it("commits a new, a changed and a deleted file as the runner with the given author; a file without a change is no commit", async () => {
    dir = mkdtempSync(join(tmpdir(), "git-commit-file-"));
    execFileSync("git", ["-C", dir, "init", "-q", "-b", "main"]);
    const git = createGit(dir, { name: "proxstack portal", email: "portal@proxstack.invalid" });
    const author = { name: "Alice", email: "alice@example.com" };
    writeFileSync(join(dir, "alice.yaml"), "name: alice\n");
    expect(await commitFile(git, "alice.yaml", "create alice", { author })).toBe(true);
    writeFileSync(join(dir, "alice.yaml"), "name: alice\n# edited\n");
    expect(await commitFile(git, "alice.yaml", "edit alice")).toBe(true);
    expect(await commitFile(git, "alice.yaml", "nothing")).toBe(false);
    unlinkSync(join(dir, "alice.yaml"));
    expect(await commitFile(git, "alice.yaml", "remove alice")).toBe(true);
    const log = execFileSync("git", ["-C", dir, "log", "--format=%an <%ae>|%cn|%s", "--name-status"], { encoding: "utf8" });
    expect(log.trim().split("\n").filter(Boolean)).toEqual([
      "proxstack portal <portal@proxstack.invalid>|proxstack portal|remove alice",
      "D\talice.yaml",
      "proxstack portal <portal@proxstack.invalid>|proxstack portal|edit alice",
      "M\talice.yaml",
      "Alice <alice@example.com>|proxstack portal|create alice",
      "A\talice.yaml",
    ]);
  });
});
