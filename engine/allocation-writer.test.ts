import { mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { withFileLock, writeIfUnchanged } from "./allocation-writer.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function stackFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "pxs-alloc-writer-"));
  dirs.push(dir);
  const file = join(dir, "carol.yaml");
  writeFileSync(file, text);
  return file;
}

describe("writeIfUnchanged under concurrent writers (real files)", () => {
  it("lets exactly one of many writers that read the same text win; every other one is told the file changed", async () => {
    const original = "name: carol\n";
    const file = stackFile(original);
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => writeIfUnchanged(file, original, `name: carol\n# writer ${i}\n`)));
    const winners = results.flatMap((r, i) => (r.ok ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => !r.ok)).toEqual(Array.from({ length: 15 }, () => ({ ok: false, reason: "changed" })));
    expect(readFileSync(file, "utf8")).toBe(`name: carol\n# writer ${winners[0]}\n`);
    // Neither temporary files nor the lock are left behind.
    expect(readdirSync(join(file, ".."))).toEqual(["carol.yaml"]);
  });

  it("waits for a writer holding the lock, sees its edit and refuses to overwrite it", async () => {
    const file = stackFile("name: carol\n");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const held = withFileLock(file, async () => {
      entered();
      await gate;
      writeFileSync(file, "name: carol\n# the portal's edit\n");
    });
    await inside;
    // The engine read the file before the portal's edit and now tries to write while the portal holds the lock.
    const engine = writeIfUnchanged(file, "name: carol\n", "name: carol\nvmid: 2000\n");
    await new Promise((r) => setTimeout(r, 30));
    release();
    await held;
    expect(await engine).toEqual({ ok: false, reason: "changed" });
    expect(readFileSync(file, "utf8")).toBe("name: carol\n# the portal's edit\n");
  });

  it("takes over a crashed writer's stale lock, and gives up on a live one with a clear error", async () => {
    const file = stackFile("name: carol\n");
    const lock = join(file, "..", ".carol.yaml.lock");
    writeFileSync(lock, "12345\n");
    await expect(writeIfUnchanged(file, "name: carol\n", "x\n", { timeoutMs: 50 })).rejects.toMatchObject({
      code: "stack-file-locked",
      kind: "retry",
      message: `${file} is being written by another proxstack process (lock ${lock} held over 0s); try again`,
    });
    expect(readFileSync(file, "utf8")).toBe("name: carol\n");
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    expect(await writeIfUnchanged(file, "name: carol\n", "x\n")).toEqual({ ok: true, text: "x\n" });
    expect(readdirSync(join(file, ".."))).toEqual(["carol.yaml"]);
  });
});
