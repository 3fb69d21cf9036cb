import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { PlatformSpecSchema, UserStackSpecSchema, type UserStackSpec } from "../schemas/index.js";
import { allocate, takenBy } from "./allocation.js";
import { commitStackFile, setInstanceAllocations, writeIfUnchanged } from "./allocation-writer.js";

const read = (f: string) => readFileSync(new URL(`../stacks/${f}`, import.meta.url), "utf8");
const platform = PlatformSpecSchema.parse(parse(read("platform.yaml")));
const carol = UserStackSpecSchema.parse(parse(read("carol.yaml")));
const alice = UserStackSpecSchema.parse(parse(read("alice.yaml")));
const none = { vmids: new Set<number>(), ips: new Set<string>() };

describe("allocate", () => {
  it("takes the lowest free VMID and address, skipping reserved, gateway, engine and connector", () => {
    expect(allocate(carol, platform, none)).toEqual([{ instance: "lab", vmid: 2000, ip: "10.10.0.20" }]);
    expect(allocate(carol, platform, takenBy([alice]))).toEqual([{ instance: "lab", vmid: 2000, ip: "10.10.0.20" }]);
    expect(allocate(carol, platform, { vmids: new Set([2000, 2001]), ips: new Set(["10.10.0.20"]) })).toEqual([
      { instance: "lab", vmid: 2002, ip: "10.10.0.21" },
    ]);
  });

  it("gives two new instances of one stack different values, and keeps what is written", () => {
    const two: UserStackSpec = {
      ...carol,
      instances: [carol.instances[0]!, { ...carol.instances[0]!, name: "lab2" }, { ...carol.instances[0]!, name: "fixed", vmid: 2500, ip: "10.10.0.99" }],
    };
    expect(allocate(two, platform, none)).toEqual([
      { instance: "lab", vmid: 2000, ip: "10.10.0.20" },
      { instance: "lab2", vmid: 2001, ip: "10.10.0.21" },
    ]);
  });

  it("fails as a stall when the range is used up", () => {
    const narrow = { ...platform, proxmox: { ...platform.proxmox, vmidRange: { from: 2000, to: 2000 } } };
    expect(() => allocate(carol, narrow, { vmids: new Set([2000]), ips: new Set() })).toThrow(/no free VMID left/);
    const full = new Set(Array.from({ length: 256 }, (_, i) => `10.10.0.${i}`));
    expect(() => allocate(carol, platform, { vmids: new Set(), ips: full })).toThrow(/no free IP address left/);
  });
});

describe("allocation write-back", () => {
  it("keeps comments and layout, adds only the two lines", () => {
    const text = read("carol.yaml");
    const out = setInstanceAllocations(text, [{ instance: "lab", vmid: 2000, ip: "10.10.0.20" }]);
    const removed = text.split("\n").filter((l) => !out.split("\n").includes(l));
    expect(removed).toEqual([]);
    expect(out.split("\n").length - text.split("\n").length).toBe(2);
    expect(UserStackSpecSchema.parse(parse(out)).instances[0]).toMatchObject({ vmid: 2000, ip: "10.10.0.20" });
  });

  it("compare-and-swap: refuses to overwrite a file edited since it was read; commits in a git repo", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alloc-"));
    try {
      const file = join(dir, "carol.yaml");
      writeFileSync(file, read("carol.yaml"));
      execFileSync("git", ["init", "-q", dir]);
      const expected = read("carol.yaml");
      writeFileSync(file, expected + "# edited meanwhile\n");
      expect(await writeIfUnchanged(file, expected, "replaced")).toEqual({ ok: false, reason: "changed" });
      expect(readFileSync(file, "utf8")).toContain("# edited meanwhile");
      const now = readFileSync(file, "utf8");
      expect((await writeIfUnchanged(file, now, now.replace("plan: small", "plan: small\n    vmid: 2000"))).ok).toBe(true);
      expect(await commitStackFile(dir, "carol.yaml", "engine: allocate carol")).toBe(true);
      expect(execFileSync("git", ["-C", dir, "log", "--format=%s"], { encoding: "utf8" })).toContain("engine: allocate carol");
      expect(await commitStackFile(dir, "carol.yaml", "nothing to commit")).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
