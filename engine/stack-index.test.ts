// The stack index's incremental path (re-check only the files sharing a value with a change) against the whole-set
// reference (every verdict derived again on every change): the same verdicts, hashes and changes after any sequence.
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { createStackIndex, type StackIndex } from "./stack-index.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn alice@laptop";
const PLATFORM = readFileSync(new URL("../stacks/platform.yaml", import.meta.url), "utf8");

// Few values, so files share them often: ann/x/lab-y and ann-x/lab/y spell the same hostname.
const STACKS = ["ann", "ann-x", "bob", "cy", "dee", "eve"] as const;
const INSTANCES = ["x", "lab", "web"] as const;
const SUBDOMAINS = ["y", "lab-y", "www"] as const;
const VMIDS = [2001, 2002, 2003, 2004, 2005] as const;
const IPS = ["10.10.0.21", "10.10.0.22", "10.10.0.23", "10.10.0.24", "10.10.0.25"] as const;

interface Inst {
  name: string;
  vmid?: number;
  ip?: string;
  subdomain?: string;
}
// A file of kind Platform under a user's name moves the platform every file is checked against: a whole pass.
type Variant = "valid" | "broken-yaml" | "bad-schema" | "other-name" | "platform-kind";

function userYaml(stack: string, insts: Inst[], variant: Variant): string {
  if (variant === "platform-kind") return PLATFORM;
  const name = variant === "other-name" ? (stack === "bob" ? "cy" : "bob") : stack;
  const lines = [
    "apiVersion: proxstack.dev/v1",
    "kind: UserStack",
    `name: ${name}`,
    "owner:",
    `  email: ${stack}@example.com`,
    `linuxUser: ${stack.replace("-", "")}`,
    "sshKeys:",
    `  - ${KEY}`,
    "instances:",
  ];
  for (const i of insts) {
    lines.push(`  - name: ${i.name}`, "    template: debian-12", `    plan: ${variant === "bad-schema" ? "[small" : "small"}`);
    if (i.vmid !== undefined) lines.push(`    vmid: ${i.vmid}`);
    if (i.ip !== undefined) lines.push(`    ip: ${i.ip}`);
    if (i.subdomain !== undefined) lines.push(`    domains: [{ subdomain: ${i.subdomain}, port: 80 }]`);
  }
  // Unreadable YAML still claims the `vmid:` and `ip:` values its text spells out.
  if (variant === "broken-yaml") lines.push("  - name: [unclosed");
  if (variant === "bad-schema") lines.push("    cores: many");
  return lines.join("\n") + "\n";
}

const inst: fc.Arbitrary<Inst> = fc.record(
  {
    name: fc.constantFrom(...INSTANCES),
    vmid: fc.constantFrom(...VMIDS),
    ip: fc.constantFrom(...IPS),
    subdomain: fc.constantFrom(...SUBDOMAINS),
  },
  { requiredKeys: ["name"] },
);
const file = fc.record({
  insts: fc.uniqueArray(inst, { minLength: 1, maxLength: 2, selector: (i) => i.name }),
  variant: fc.constantFrom<Variant>("valid", "valid", "valid", "valid", "valid", "broken-yaml", "bad-schema", "other-name", "platform-kind"),
});
const liveKey = fc.oneof(
  fc.constantFrom(...VMIDS).map((v) => `vmid ${v}`),
  fc.constantFrom(...IPS).map((v) => `ip ${v}`),
);
type Op =
  | { op: "write"; stack: string; insts: Inst[]; variant: Variant; resync: boolean }
  | { op: "delete"; stack: string; resync: boolean }
  | { op: "live"; key: string; holder: string | undefined }
  | { op: "resync" };
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ op: fc.constant("write" as const), stack: fc.constantFrom(...STACKS), resync: fc.boolean() })
      .chain((w) => file.map((f) => ({ ...w, ...f }))),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), stack: fc.constantFrom(...STACKS), resync: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("live" as const), key: liveKey, holder: fc.option(fc.constantFrom(...STACKS, "gone"), { nil: undefined }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("resync" as const) }) },
);

/** Everything the engine reads from the index about one stack. */
function view(index: StackIndex) {
  return {
    names: index.names(),
    stacks: index.names().map((n) => {
      const e = index.get(n);
      return { n, valid: e?.valid?.hash, errors: e?.errors, lastGood: e?.lastGood ? JSON.stringify(e.lastGood) : undefined };
    }),
    platformHash: index.platformHash(),
  };
}
const sorted = (r: { changed: string[]; removed: string[] }) => ({ changed: [...r.changed].sort(), removed: [...r.removed].sort() });

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A stacks directory and two indexes over it sharing live holders: the incremental one and the whole-set reference. */
function pair(settlePasses?: number) {
  const dir = mkdtempSync(join(tmpdir(), "proxstack-index-"));
  dirs.push(dir);
  writeFileSync(join(dir, "platform.yaml"), PLATFORM);
  const live = new Map<string, string>();
  const liveHolders = () => new Map(live);
  const passes = settlePasses === undefined ? {} : { settlePasses };
  const fast = createStackIndex(dir, { liveHolders, ...passes });
  const full = createStackIndex(dir, { liveHolders, incremental: false, ...passes });
  return { dir, live, fast, full };
}

describe("the stack index's incremental path", () => {
  it("gives exactly the verdicts, hashes and changes of a whole-set pass after any sequence of edits, removals and live holders", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(file, { minLength: 6, maxLength: 6 }),
        fc.array(op, { minLength: 1, maxLength: 25 }),
        fc.constantFrom(1, 2, undefined),
        async (initial, ops, passes) => {
          const { dir, live, fast, full } = pair(passes);
          STACKS.forEach((s, k) => writeFileSync(join(dir, `${s}.yaml`), userYaml(s, initial[k]!.insts, initial[k]!.variant)));
          expect(sorted(await fast.resync())).toEqual(sorted(await full.resync()));
          expect(view(fast)).toEqual(view(full));
          for (const o of ops) {
            if (o.op === "live") {
              if (o.holder === undefined) live.delete(o.key);
              else live.set(o.key, o.holder);
              continue;
            }
            if (o.op === "write") writeFileSync(join(dir, `${o.stack}.yaml`), userYaml(o.stack, o.insts, o.variant));
            if (o.op === "delete") rmSync(join(dir, `${o.stack}.yaml`), { force: true });
            const resync = o.op === "resync" || o.resync;
            const [a, b] = resync ? [await fast.resync(), await full.resync()] : [await fast.reload(o.stack), await full.reload(o.stack)];
            expect(sorted(a)).toEqual(sorted(b));
            expect(view(fast)).toEqual(view(full));
          }
          rmSync(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: Number(process.env.RUNS ?? 150), seed: Number(process.env.SEED ?? 20261130) },
    );
  }, 120_000);

  /** cy holds 2001 through its last good spec and wants 2003, which dee holds; eve wants 2001. Then dee lets 2003 go. */
  async function chainOfThree(settlePasses?: number) {
    const { dir, live, fast, full } = pair(settlePasses);
    const write = (s: string, vmid: number) => writeFileSync(join(dir, `${s}.yaml`), userYaml(s, [{ name: "web", vmid }], "valid"));
    const both = async (s: string) => {
      const [a, b] = [await fast.reload(s), await full.reload(s)];
      expect(sorted(a)).toEqual(sorted(b));
      expect(view(fast)).toEqual(view(full));
      return a;
    };
    write("cy", 2005);
    await fast.resync();
    await full.resync();
    write("eve", 2001);
    await both("eve");
    // A live container of cy holds 2001: cy takes it, eve is refused but keeps 2001 in its last good spec.
    live.set("vmid 2001", "cy");
    write("cy", 2001);
    await both("cy");
    live.delete("vmid 2001");
    write("dee", 2003);
    await both("dee");
    write("cy", 2003);
    await both("cy");
    expect(fast.get("cy")?.errors?.[0]).toMatch(/vmid 2003 is already held by stack dee/);
    expect(fast.get("eve")?.errors?.[0]).toMatch(/vmid 2001 is already held by stack cy/);
    write("dee", 2004);
    return { fast, write, both, freed: await both("dee") };
  }

  it("a chain of holder changes is followed to its end by the change that starts it", async () => {
    // dee lets 2003 go: cy's edit is valid, so cy lets 2001 go, so eve is valid — all in the one change.
    const { fast, freed } = await chainOfThree();
    expect([...freed.changed].sort()).toEqual(["cy", "dee", "eve"]);
    expect(fast.get("cy")?.valid).toBeDefined();
    expect(fast.get("eve")?.valid).toBeDefined();
  });

  it("a chain longer than the passes allowed finishes at the next change, as a whole pass does", async () => {
    const { fast, write, both, freed } = await chainOfThree(2);
    // The second pass frees cy, whose new spec lets 2001 go to eve; no third pass looks at eve.
    expect([...freed.changed].sort()).toEqual(["cy", "dee"]);
    expect(fast.get("cy")?.valid).toBeDefined();
    expect(fast.get("eve")?.errors?.[0]).toMatch(/vmid 2001 is already held by stack cy/);
    // The next change anywhere: eve is checked again and valid.
    write("bob", 2009);
    const next = await both("bob");
    expect([...next.changed].sort()).toEqual(["bob", "eve", "platform"]);
    expect(fast.get("eve")?.valid).toBeDefined();
  });

  it("keeps platform.yaml as the platform when a user file of kind Platform sorts before it", async () => {
    const { dir, fast, full } = pair();
    // ann's file declares a platform whose catalog has a free plan "huge"; bob asks for that plan.
    const generous = PLATFORM.replace("plans:\n", "plans:\n  huge: { cores: 64, memoryMiB: 262144, swapMiB: 0, diskGiB: 4096, pointsPerDay: 0 }\n");
    writeFileSync(join(dir, "ann.yaml"), generous);
    writeFileSync(join(dir, "bob.yaml"), userYaml("bob", [{ name: "web" }], "valid").replace("plan: small", "plan: huge"));
    writeFileSync(join(dir, "cy.yaml"), userYaml("cy", [{ name: "web" }], "valid"));
    await fast.resync();
    await full.resync();
    expect(fast.get("ann")?.errors).toEqual([
      `${join(dir, "ann.yaml")}:4:7: a second Platform file; the platform is already defined in ${join(dir, "platform.yaml")} and an installation has exactly one`,
    ]);
    expect(fast.get("bob")?.errors?.[0]).toMatch(/plan "huge" is not in the platform's catalog; choose one of small, medium, large$/);
    expect(fast.get("cy")?.valid).toBeDefined();
    expect(view(fast)).toEqual(view(full));
  });

  it("refuses the file that takes a held value among many files, and frees it when the holder lets the value go", async () => {
    const { dir, fast, full } = pair();
    const many = Array.from({ length: 40 }, (_, k) => `s${k}`);
    const ip = (k: number) => `10.10.0.${30 + k}`;
    many.forEach((s, k) => writeFileSync(join(dir, `${s}.yaml`), userYaml(s, [{ name: "web", vmid: 2100 + k, ip: ip(k), subdomain: "www" }], "valid")));
    await fast.resync();
    await full.resync();
    expect(many.every((s) => fast.get(s)?.valid)).toBe(true);

    // s39 takes s3's address: only s39 is refused, naming the holder; s3 keeps running.
    writeFileSync(join(dir, "s39.yaml"), userYaml("s39", [{ name: "web", vmid: 2139, ip: ip(3) }], "valid"));
    const taken = await fast.reload("s39");
    expect(sorted(taken)).toEqual(sorted(await full.reload("s39")));
    expect(taken.changed).toEqual(["s39"]);
    expect(fast.get("s39")?.errors).toEqual([
      `${join(dir, "s39.yaml")}:14:9: ip 10.10.0.33 is already held by stack s3; an address belongs to one instance across all stacks`,
    ]);
    expect(fast.get("s3")?.valid).toBeDefined();
    expect(view(fast)).toEqual(view(full));

    // s3 moves to another address: s39 is valid without its file changing.
    writeFileSync(join(dir, "s3.yaml"), userYaml("s3", [{ name: "web", vmid: 2103, ip: "10.10.0.99", subdomain: "www" }], "valid"));
    const freed = await fast.reload("s3");
    expect(sorted(freed)).toEqual(sorted(await full.reload("s3")));
    expect([...freed.changed].sort()).toEqual(["platform", "s3", "s39"]);
    expect(fast.get("s39")?.valid).toBeDefined();
    expect(view(fast)).toEqual(view(full));

    // Removing the file that holds a value frees it too (s5's VMID, taken by s38 meanwhile).
    writeFileSync(join(dir, "s38.yaml"), userYaml("s38", [{ name: "web", vmid: 2105, ip: ip(38) }], "valid"));
    await fast.reload("s38");
    await full.reload("s38");
    expect(fast.get("s38")?.errors?.[0]).toMatch(/vmid 2105 is already held by stack s5/);
    unlinkSync(join(dir, "s5.yaml"));
    const gone = await fast.reload("s5");
    expect(sorted(gone)).toEqual(sorted(await full.reload("s5")));
    expect(sorted(gone)).toEqual({ changed: ["platform", "s38"], removed: ["s5"] });
    expect(view(fast)).toEqual(view(full));

    // A value still held through a file's last good spec, though its current text no longer claims it (refused for
    // another value): another file taking it is refused, and freed when that file goes.
    writeFileSync(join(dir, "s10.yaml"), userYaml("s10", [{ name: "web", vmid: 2111, ip: ip(10) }], "valid"));
    writeFileSync(join(dir, "s20.yaml"), userYaml("s20", [{ name: "web", vmid: 2110, ip: ip(20) }], "valid"));
    for (const s of ["s10", "s20"]) expect(sorted(await fast.reload(s))).toEqual(sorted(await full.reload(s)));
    expect(fast.get("s10")?.errors?.[0]).toMatch(/vmid 2111 is already held by stack s11/);
    expect(fast.get("s20")?.errors?.[0]).toMatch(/vmid 2110 is already held by stack s10/);
    unlinkSync(join(dir, "s10.yaml"));
    const released = await fast.reload("s10");
    expect(sorted(released)).toEqual(sorted(await full.reload("s10")));
    expect(sorted(released)).toEqual({ changed: ["platform", "s20"], removed: ["s10"] });
    expect(view(fast)).toEqual(view(full));
  });
});
