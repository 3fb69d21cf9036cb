// The portal's in-memory stack-file reads: the spec store is asked again exactly when a file on disk is another one.
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSpecStore, type SpecStore } from "../stackfiles/spec-store.js";
import { cachedSpecReads } from "./spec-reads.js";

const REPO = resolve(import.meta.dirname, "..");
let dir: string;
let calls: { read: string[]; platform: number };
let reads: SpecStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "spec-reads-"));
  cpSync(join(REPO, "stacks"), dir, { recursive: true });
  const inner = createSpecStore(dir);
  calls = { read: [], platform: 0 };
  reads = cachedSpecReads({
    ...inner,
    dir,
    read: (s) => (calls.read.push(s), inner.read(s)),
    platform: () => (calls.platform++, inner.platform()),
  });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Sets a file's mtime to a fixed second, so a change is seen whatever the filesystem's timestamp resolution. */
const touch = (name: string, s: number) => utimesSync(join(dir, name), s, s);

describe("cachedSpecReads", () => {
  it("an unchanged file is read once; the same object answers again", async () => {
    const a = await reads.read("alice");
    const b = await reads.read("alice");
    expect(a?.spec?.owner.email).toBe("alice@example.com");
    expect(b).toBe(a);
    await reads.platform();
    await reads.platform();
    expect(calls).toEqual({ read: ["alice"], platform: 1 });
  });

  it("a file replaced by rename (how the spec store writes), even of the same size and time, is read again", async () => {
    const first = await reads.read("alice");
    const path = join(dir, "alice.yaml");
    const st = statSync(path);
    const text = readFileSync(path, "utf8").replace("power: running", "power: stopped");
    writeFileSync(`${path}.tmp`, text);
    utimesSync(`${path}.tmp`, st.atime, st.mtime);
    renameSync(`${path}.tmp`, path);
    const second = await reads.read("alice");
    expect(second).not.toBe(first);
    expect(calls.read).toEqual(["alice", "alice"]);
  });

  it("a hand edit in place is read again; a user file is read again when the platform file changes", async () => {
    await reads.read("alice");
    touch("alice.yaml", 1_700_000_000);
    await reads.read("alice");
    touch("platform.yaml", 1_700_000_000);
    await reads.read("alice");
    await reads.read("alice");
    expect(calls.read).toEqual(["alice", "alice", "alice"]);
  });

  it("a file that goes answers undefined, and one that comes back is read", async () => {
    const text = readFileSync(join(dir, "alice.yaml"), "utf8");
    await reads.read("alice");
    rmSync(join(dir, "alice.yaml"));
    expect(await reads.read("alice")).toBeUndefined();
    writeFileSync(join(dir, "alice.yaml"), text);
    expect((await reads.read("alice"))?.spec?.name).toBe("alice");
    expect(calls.read).toEqual(["alice", "alice", "alice"]);
  });

  it("a name that is not a stack is refused by the spec store as before", async () => {
    await expect(reads.read("../etc/passwd")).rejects.toMatchObject({ code: "stack-name-invalid", status: 400 });
  });
});
