// The spec store against a real git repository in a temp dir: comment-preserving edits, whole-set validation, atomic writes, commits as the user.
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProxstackError } from "../lib/errors.js";
import { addDomain, addInstance, setPower } from "./edit.js";
import { createSpecStore, type SpecStore } from "./spec-store.js";

const REPO = resolve(import.meta.dirname, "..");
const ALICE = { name: "Alice Martin", email: "alice@example.com" };
let dir: string;
let store: SpecStore;
const git = (...args: string[]) =>
  execFileSync("git", ["-C", dir, "-c", "user.name=seed", "-c", "user.email=seed@example.invalid", ...args], { encoding: "utf8" });
const read = (name: string) => readFileSync(join(dir, `${name}.yaml`), "utf8");

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "spec-store-"));
  cpSync(join(REPO, "stacks"), dir, { recursive: true });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "seed");
  store = createSpecStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(p: Promise<unknown>): Promise<ProxstackError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ProxstackError)) throw new Error(`expected a ProxstackError, got ${String(err)}`);
  return err;
}

describe("spec store", () => {
  it("an edit keeps every comment, changes only its lines, and is one commit authored by the user", async () => {
    const before = read("alice");
    const r = await store.edit("alice", ALICE, "portal: alice stops web", (text) => setPower(text, "web", "stopped"));
    expect(r.changed).toBe(true);
    expect(r.spec.instances.find((i) => i.name === "web")?.power).toBe("stopped");
    expect(read("alice")).toBe(before.replace("    power: running\n", "    power: stopped\n"));
    expect(git("log", "-1", "--format=%an <%ae>|%cn|%s").trim()).toBe("Alice Martin <alice@example.com>|proxstack portal|portal: alice stops web");
    expect(git("show", "--stat", "--format=", "HEAD").trim()).toMatch(/^alice\.yaml \| 2 \+-/);
    expect(git("status", "--porcelain")).toBe("");
  });

  it("a read sees a hand edit of the same size made with the old mtime (the inode and ctime differ)", async () => {
    const path = join(dir, "carol.yaml");
    const mtime = new Date("2026-11-01T00:00:00Z");
    utimesSync(path, mtime, mtime);
    const first = await store.read("carol");
    expect(first?.spec?.instances[0]?.plan).toBe("small");
    writeFileSync(`${path}.new`, read("carol").replace("plan: small", "plan: large"));
    renameSync(`${path}.new`, path);
    utimesSync(path, mtime, mtime);
    expect((await store.read("carol"))?.spec?.instances[0]?.plan).toBe("large");
  });

  it("a read checks the file again when the platform file changes (a plan the platform dropped)", async () => {
    expect((await store.read("carol"))?.errors).toEqual([]);
    const platform = readFileSync(join(dir, "platform.yaml"), "utf8");
    writeFileSync(join(dir, "platform.yaml"), platform.replace(/\n  small:\n(    .*\n)+/, "\n"));
    const after = await store.read("carol");
    expect(after?.spec).toBeUndefined();
    expect(after?.errors.map((e) => e.message)).toEqual([expect.stringMatching(/plan "small" is not in the platform's catalog/)]);
    expect((await store.platform()).plans).not.toHaveProperty("small");
  });

  it("a no-op edit writes and commits nothing", async () => {
    const head = git("rev-parse", "HEAD");
    const r = await store.edit("alice", ALICE, "noop", (text) => setPower(text, "web", "running"));
    expect(r.changed).toBe(false);
    expect(git("rev-parse", "HEAD")).toBe(head);
  });

  it("an edit that breaks the file's validation is refused with the validator's words; file and HEAD untouched", async () => {
    const before = read("alice");
    const head = git("rev-parse", "HEAD");
    const err = await refusal(store.edit("alice", ALICE, "bad", (text) => addInstance(text, { name: "x", template: "windows", plan: "small" })));
    expect(err.code).toBe("invalid-spec");
    expect(err.status).toBe(422);
    expect(err.message).toMatch(/template "windows" is not in the platform's catalog/);
    expect(read("alice")).toBe(before);
    expect(git("rev-parse", "HEAD")).toBe(head);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("cross-file invariants: a VMID another stack holds answers 409 already-taken, without naming the other stack", async () => {
    const err = await refusal(
      store.edit("alice", ALICE, "steal", (text) => addInstance(text, { name: "x", template: "debian-12", plan: "small", vmid: 2003 })),
    );
    expect(err.code).toBe("already-taken");
    expect(err.status).toBe(409);
    expect(err.message).toBe("vmid 2003 is already taken by another stack; choose another");
  });

  it("quota errors answer 409 quota-exceeded", async () => {
    let text = read("carol");
    for (const n of ["a", "b", "c", "d"]) text = addInstance(text, { name: n, template: "debian-12", plan: "small" });
    const err = await refusal(store.edit("carol", ALICE, "too many", () => addInstance(text, { name: "e", template: "debian-12", plan: "small" })));
    expect(err.code).toBe("quota-exceeded");
  });

  it("a write racing ours is never lost: the mutation is re-applied on the new text", async () => {
    let calls = 0;
    await store.edit("alice", ALICE, "portal: alice adds domain", (text) => {
      calls++;
      if (calls === 1) writeFileSync(join(dir, "alice.yaml"), text.replace("    power: stopped\n", "    power: running\n"));
      return addDomain(text, "dev", { subdomain: "docs", port: 3000 });
    });
    expect(calls).toBe(2);
    const after = read("alice");
    expect(after).toContain("subdomain: docs");
    expect(after).not.toContain("power: stopped");
  });

  it("concurrent edits of one file through the store all land, one commit each", async () => {
    const subs = ["d1", "d2", "d3", "d4"];
    await Promise.all(subs.map((s) => store.edit("carol", ALICE, `add ${s}`, (text) => addDomain(text, "lab", { subdomain: s, port: 80 }))));
    for (const s of subs) expect(read("carol")).toContain(`subdomain: ${s}`);
    expect(git("log", "--format=%s", "-4").trim().split("\n").sort()).toEqual(subs.map((s) => `add ${s}`));
  });

  it("a file that keeps changing gives up with 409 conflict, leaving the other writer's text", async () => {
    let n = 0;
    const err = await refusal(
      store.edit("alice", ALICE, "x", (text) => {
        writeFileSync(join(dir, "alice.yaml"), `${text}# other writer ${n++}\n`);
        return setPower(text, "web", "stopped");
      }),
    );
    expect(err.code).toBe("conflict");
    expect(err.status).toBe(409);
    expect(read("alice")).toMatch(/# other writer 4\n$/);
  });

  it("create writes a new file atomically and refuses an existing name", async () => {
    const text = read("carol").replace(/carol/g, "dave");
    const r = await store.create("dave", { name: "Dave", email: "dave@example.com" }, "portal: new stack dave", text);
    expect(r.spec.owner.email).toBe("dave@example.com");
    expect(git("log", "-1", "--format=%an|%s").trim()).toBe("Dave|portal: new stack dave");
    const err = await refusal(store.create("dave", ALICE, "again", text));
    expect(err.code).toBe("stack-exists");
  });

  it("names that are not stack names are refused before any file is touched", async () => {
    for (const bad of ["../alice", "platform", "Alice", "a/b", ""]) {
      const err = await refusal(store.edit(bad, ALICE, "x", (t) => t));
      expect(err.code).toBe("stack-name-invalid");
    }
  });

  it("a failed commit puts the file back, so disk and git never disagree", async () => {
    const before = read("alice");
    // A pre-existing index.lock that never goes away makes every commit fail.
    writeFileSync(join(dir, ".git", "index.lock"), "");
    chmodSync(join(dir, ".git", "index.lock"), 0o444);
    const err = await refusal(store.edit("alice", ALICE, "x", (text) => setPower(text, "web", "stopped")));
    expect(err.code).toBe("commit-failed");
    expect(read("alice")).toBe(before);
    rmSync(join(dir, ".git", "index.lock"));
  }, 30_000);

  it("authors' names with angle brackets or newlines are cleaned for git", async () => {
    await store.edit("alice", { name: "Eve <root@evil>\nX", email: "alice@example.com" }, "x", (text) => setPower(text, "web", "stopped"));
    expect(git("log", "-1", "--format=%an <%ae>").trim()).toBe("Eve root@evilX <alice@example.com>");
  });
});
