// Cross-file validation: conflicts blame every file involved, whatever the order; the platform gates user files.
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { formatPositionedError } from "./positioned-error.js";
import { createStackSetValidator, isStackFileName, loadStackDir, validateStackSet, type StackFileInput } from "./validate.js";

const read = (name: string) => readFileSync(new URL(`../stacks/${name}`, import.meta.url), "utf8");
/** Inputs whose text is a string, so tests can rewrite it. */
type TextInput = StackFileInput & { text: string };

const PLATFORM: TextInput = { path: "stacks/platform.yaml", text: read("platform.yaml") };
const ALICE: TextInput = { path: "stacks/alice.yaml", text: read("alice.yaml") };
const BOB: TextInput = { path: "stacks/bob.yaml", text: read("bob.yaml") };
const CAROL: TextInput = { path: "stacks/carol.yaml", text: read("carol.yaml") };

/** Carol's file renamed to `name`, with extra lines appended to her one instance. */
function user(name: string, instanceLines: string[] = [], instanceName = "lab"): TextInput {
  const text = read("carol.yaml").replace("name: carol", `name: ${name}`).replace("- name: lab", `- name: ${instanceName}`);
  return { path: `stacks/${name}.yaml`, text: text + instanceLines.map((l) => `    ${l}\n`).join("") };
}

const lines = (files: StackFileInput[]) => validateStackSet(files).errors.map(formatPositionedError);

describe("validateStackSet", () => {
  it("accepts the examples and returns the valid user specs sorted by path", () => {
    const r = validateStackSet([CAROL, PLATFORM, BOB, ALICE]);
    expect(r.valid).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r.users.map((u) => u.spec.name)).toEqual(["alice", "bob", "carol"]);
    expect(r.platform?.spec.baseDomain).toBe("example.com");
    expect(r.files.map((f) => [f.path, f.kind, f.valid])).toEqual([
      ["stacks/alice.yaml", "UserStack", true],
      ["stacks/bob.yaml", "UserStack", true],
      ["stacks/carol.yaml", "UserStack", true],
      ["stacks/platform.yaml", "Platform", true],
    ]);
  });

  it("blames every file in a VMID conflict, pointing each at the other", () => {
    const aaron = user("aaron", ["vmid: 2001"]);
    expect(lines([PLATFORM, ALICE, aaron])).toEqual([
      "stacks/aaron.yaml:15:11: vmid 2001 is also claimed by stacks/alice.yaml:17:11 (alice/web); a VMID belongs to one instance across all stacks",
      "stacks/alice.yaml:17:11: vmid 2001 is also claimed by stacks/aaron.yaml:15:11 (aaron/lab); a VMID belongs to one instance across all stacks",
    ]);
    const r = validateStackSet([PLATFORM, ALICE, aaron]);
    expect(r.users).toEqual([]);
  });

  it("gives the same verdict whatever order the files come in", () => {
    const set = [PLATFORM, ALICE, BOB, CAROL, user("zed", ["ip: 10.10.0.23"]), user("aaron", ["vmid: 2003"])];
    const a = validateStackSet(set);
    const b = validateStackSet([...set].reverse());
    expect(b).toEqual(a);
    expect(a.files.filter((f) => !f.valid).map((f) => f.path)).toEqual(["stacks/aaron.yaml", "stacks/bob.yaml", "stacks/zed.yaml"]);
    expect(a.users.map((u) => u.spec.name)).toEqual(["alice", "carol"]);
  });

  it("finds hostnames that collide across users through hyphens", () => {
    // ann-x / lab / y and ann / x / lab-y both spell ann-x-lab-y.example.com.
    const a = user("ann-x", ["domains: [{ subdomain: y, port: 80 }]"], "lab");
    const b = user("ann", ["domains: [{ subdomain: lab-y, port: 80 }]"], "x");
    const out = lines([PLATFORM, a, b]);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/^stacks\/ann-x\.yaml:\d+:\d+: hostname ann-x-lab-y\.example\.com is also claimed by stacks\/ann\.yaml/);
  });

  it("lets a file that fails its schema still claim its VMID, so nobody else gets it", () => {
    const broken = { path: "stacks/alice.yaml", text: ALICE.text.replace("plan: medium", "plan: 7") };
    const aaron = user("aaron", ["vmid: 2001"]);
    const r = validateStackSet([PLATFORM, broken, aaron]);
    expect(r.files.find((f) => f.path === "stacks/aaron.yaml")?.valid).toBe(false);
    expect(r.errors.map((e) => e.code)).toContain("set.vmid-conflict");
  });

  it("lets a file that is not even YAML keep its VMID and address, found by scanning its text", () => {
    const broken = {
      path: "stacks/alice.yaml",
      text: ALICE.text.replace("    template: debian-12\n    plan: medium", "    template: [debian-12\n    plan: medium"),
    };
    const aaron = user("aaron", ["vmid: 2001", "ip: 10.10.0.22"]);
    const out = lines([PLATFORM, broken, aaron]).filter((l) => l.startsWith("stacks/aaron.yaml"));
    expect(out).toEqual([
      "stacks/aaron.yaml:15:11: vmid 2001 is also claimed by stacks/alice.yaml:17:11 (alice/?); a VMID belongs to one instance across all stacks",
      "stacks/aaron.yaml:16:9: ip 10.10.0.22 is also claimed by stacks/alice.yaml:32:9 (alice/?); an address belongs to one instance across all stacks",
    ]);
  });

  it("marks user files unchecked when there is no platform, or it is invalid", () => {
    expect(lines([CAROL])).toEqual([
      "stacks/carol.yaml:1:1: cannot be checked: no platform file (kind: Platform) was given; validate user files together with stacks/platform.yaml",
    ]);
    const badPlatform = { path: PLATFORM.path, text: PLATFORM.text.replace("bridge: vmbr0", "bridge: 0") };
    const r = validateStackSet([badPlatform, CAROL]);
    expect(r.platform).toBeUndefined();
    expect(r.files.map((f) => f.valid)).toEqual([false, false]);
    expect(r.errors.map(formatPositionedError)).toContain("stacks/carol.yaml:1:1: cannot be checked: the platform file stacks/platform.yaml has errors");
  });

  it("blames both files that carry the same stack name from different folders", () => {
    const out = lines([PLATFORM, CAROL, { path: "other/carol.yaml", text: CAROL.text }]);
    expect(out.filter((l) => l.includes("stack name carol is also claimed by"))).toHaveLength(2);
    expect(out.some((l) => l.includes("vmid"))).toBe(false);
  });

  it("blames both instances when one file repeats an address", () => {
    const f = user("dan", ["ip: 10.10.0.40"]);
    const text = `${f.text}  - name: two\n    template: debian-12\n    plan: small\n    ip: 10.10.0.40\n`;
    expect(lines([PLATFORM, { path: f.path, text }])).toEqual([
      "stacks/dan.yaml:15:9: ip 10.10.0.40 is also claimed by stacks/dan.yaml:19:9 (dan/two); an address belongs to one instance across all stacks",
      "stacks/dan.yaml:19:9: ip 10.10.0.40 is also claimed by stacks/dan.yaml:15:9 (dan/lab); an address belongs to one instance across all stacks",
    ]);
  });

  it("refuses a second platform file", () => {
    const second = { path: "stacks/z-platform.yaml", text: PLATFORM.text };
    expect(lines([PLATFORM, second, CAROL])).toEqual([
      "stacks/z-platform.yaml:4:7: a second Platform file; the platform is already defined in stacks/platform.yaml and an installation has exactly one",
    ]);
  });

  it("keeps stacks/platform.yaml as the platform when a user file of kind Platform sorts before it", () => {
    const generous = PLATFORM.text.replace(
      /plans:\n/,
      "plans:\n  huge: { description: all of it, pointsPerDay: 0, cores: 64, memoryMiB: 262144, diskGiB: 4096 }\n",
    );
    const intruder = { path: "stacks/aaa.yaml", text: generous };
    const wantsHuge = { path: "stacks/carol.yaml", text: CAROL.text.replace("plan: small", "plan: huge") };
    const r = validateStackSet([intruder, PLATFORM, wantsHuge]);
    expect(r.platform?.path).toBe("stacks/platform.yaml");
    expect(lines([intruder, PLATFORM, wantsHuge])).toEqual([
      "stacks/aaa.yaml:4:7: a second Platform file; the platform is already defined in stacks/platform.yaml and an installation has exactly one",
      'stacks/carol.yaml:14:11: instances[0].plan "huge" is not in the platform\'s catalog; choose one of small, medium, large',
    ]);
  });

  it.each([
    [
      "template",
      ["x"],
      "template: debian-12",
      "template: fedora",
      'instances[0].template "fedora" is not in the platform\'s catalog; choose one of debian-12, ubuntu-24',
    ],
    ["plan", ["x"], "plan: small", "plan: huge", 'instances[0].plan "huge" is not in the platform\'s catalog; choose one of small, medium, large'],
  ])("refuses an unknown %s", (_, __, from, to, message) => {
    const f = { path: "stacks/carol.yaml", text: CAROL.text.replace(from, to) };
    expect(lines([PLATFORM, f]).map((l) => l.replace(/^[^ ]+ /, ""))).toEqual([message]);
  });

  it.each([
    ["2000", true],
    ["2999", true],
    ["1999", false],
    ["3000", false],
  ])("VMID %s inside the range 2000–2999: %s", (vmid, ok) => {
    expect(validateStackSet([PLATFORM, user("dan", [`vmid: ${vmid}`])]).valid).toBe(ok);
  });

  it.each([
    ["10.10.0.20", true],
    ["10.10.0.254", true],
    ["10.10.0.19", false],
    ["10.10.0.0", false],
    ["10.10.0.255", false],
    ["10.10.1.20", false],
  ])("IP %s usable: %s", (ip, ok) => {
    expect(validateStackSet([PLATFORM, user("dan", [`ip: ${ip}`])]).valid).toBe(ok);
  });

  it("checks the 63-character label of <user>-<instance>-<subdomain>", () => {
    // "dan-lab-" is 8 characters: a 55-character subdomain makes 63 (allowed), 56 makes 64.
    expect(validateStackSet([PLATFORM, user("dan", [`domains: [{ subdomain: ${"s".repeat(55)}, port: 80 }]`])]).valid).toBe(true);
    const out = lines([PLATFORM, user("dan", [`domains: [{ subdomain: ${"s".repeat(56)}, port: 80 }]`])]);
    expect(out).toHaveLength(1);
    expect(out[0]).toContain("start with a label of 64 characters; a DNS label has at most 63");
  });

  it("checks the 253-character limit of the full hostname", () => {
    const base = `${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.example.com`; // 194 characters
    const platform = { path: PLATFORM.path, text: PLATFORM.text.replace("baseDomain: example.com", `baseDomain: ${base}`) };
    const ok = lines([platform, user("dan", [`domains: [{ subdomain: ${"s".repeat(50)}, port: 80 }]`])]); // 58 + 1 + 194 = 253
    expect(ok).toEqual([]);
    const bad = lines([platform, user("dan", [`domains: [{ subdomain: ${"s".repeat(51)}, port: 80 }]`])]);
    expect(bad[0]).toContain("makes the hostname 254 characters long; a domain name has at most 253");
  });

  it("checks each quota at the instance that goes over it", () => {
    const many = ["large", "large", "small"].map((plan, i) => `  - { name: i${i}, template: debian-12, plan: ${plan} }`).join("\n");
    const f = { path: "stacks/dan.yaml", text: `${user("dan").text.replace(/instances:[\s\S]*/, "instances:\n")}${many}\n` };
    const out = lines([PLATFORM, f]);
    expect(out).toEqual([
      'stacks/dan.yaml:14:44: instances[2].plan "small" brings this stack to 16896 MiB of memory; the quota is 16384 per user',
      'stacks/dan.yaml:14:44: instances[2].plan "small" brings this stack to 9 cores; the quota is 8 per user',
    ]);
  });
});

describe("createStackSetValidator", () => {
  it("gives the same reports as validateStackSet, re-parsing only what changed", () => {
    const v = createStackSetValidator();
    const set = [PLATFORM, ALICE, BOB, CAROL];
    const first = v.validate(set);
    expect(first).toEqual(validateStackSet(set));
    const changed = { path: CAROL.path, text: CAROL.text.replace("plan: small", "plan: tiny") };
    const second = v.validate([PLATFORM, ALICE, BOB, changed]);
    expect(second).toEqual(validateStackSet([PLATFORM, ALICE, BOB, changed]));
    expect(second.files.find((f) => f.path === CAROL.path)?.valid).toBe(false);
    // Unchanged files keep their parsed spec object; the changed one was parsed anew.
    expect(second.users.find((u) => u.path === ALICE.path)?.spec).toBe(first.users.find((u) => u.path === ALICE.path)?.spec);
    const third = v.validate(set);
    expect(third.valid).toBe(true);
    expect(third.users.find((u) => u.path === CAROL.path)?.spec).not.toBe(first.users.find((u) => u.path === CAROL.path)?.spec);
  });

  it("compares bytes, not buffer identity", () => {
    const v = createStackSetValidator();
    const a = v.validate([
      { path: CAROL.path, text: Buffer.from(CAROL.text) },
      { path: PLATFORM.path, text: Buffer.from(PLATFORM.text) },
    ]);
    const b = v.validate([
      { path: CAROL.path, text: Buffer.from(CAROL.text) },
      { path: PLATFORM.path, text: Buffer.from(PLATFORM.text) },
    ]);
    expect(b.users[0]?.spec).toBe(a.users[0]?.spec);
  });
});

describe("loadStackDir", () => {
  let dir = "";
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reads every *.yaml and ignores editor temp, backup, hidden and non-YAML files", async () => {
    dir = await mkdtemp(join(tmpdir(), "stackdir-"));
    await writeFile(join(dir, "platform.yaml"), PLATFORM.text);
    await writeFile(join(dir, "carol.yaml"), CAROL.text);
    for (const junk of [".carol.yaml.swp", "#carol.yaml#", "carol.yaml~", ".#carol.yaml", "notes.txt", "carol.yaml.orig"]) {
      await writeFile(join(dir, junk), "garbage: [");
    }
    await mkdir(join(dir, "sub.yaml"));
    const r = await loadStackDir(dir);
    expect(r.files.map((f) => f.path)).toEqual([join(dir, "carol.yaml"), join(dir, "platform.yaml")]);
    expect(r.valid).toBe(true);
  });

  it.each([
    ["alice.yaml", true],
    [".alice.yaml", false],
    ["#alice.yaml#", false],
    ["alice.yaml~", false],
    ["alice~.yaml", false],
    ["alice.yml", false],
  ])("isStackFileName(%s) = %s", (name, ok) => expect(isStackFileName(name)).toBe(ok));
});

describe("createStackSetValidator with a claim holder (the engine's view)", () => {
  const validator = () => createStackSetValidator();
  const holding = (map: Record<string, string>) => (what: string, value: string) => map[`${what} ${value}`];

  it("refuses only the file that claims a value another stack holds, at the claim's position", () => {
    const aaron = user("aaron", ["vmid: 2001"]);
    const r = validator().validate([PLATFORM, ALICE, aaron], { holder: holding({ "vmid 2001": "alice" }) });
    expect(r.users.map((u) => u.spec.name)).toEqual(["alice"]);
    expect(r.errors.map(formatPositionedError)).toEqual([
      "stacks/aaron.yaml:15:11: vmid 2001 is already held by stack alice; a VMID belongs to one instance across all stacks",
    ]);
  });

  it("keeps the hostname with the stack that routed it first; the newcomer alone is refused", () => {
    const first = user("ann", ["domains: [{ subdomain: lab-y, port: 80 }]"], "x");
    const second = user("ann-x", ["domains: [{ subdomain: y, port: 80 }]"], "lab");
    const r = validator().validate([PLATFORM, first, second], { holder: holding({ "hostname ann-x-lab-y": "ann" }) });
    expect(r.users.map((u) => u.spec.name)).toEqual(["ann"]);
    expect(r.errors.map(formatPositionedError)).toEqual([
      expect.stringMatching(/^stacks\/ann-x\.yaml:\d+:\d+: hostname ann-x-lab-y\.example\.com is already held by stack ann; a hostname routes to one instance/),
    ]);
  });

  it("refuses a value held by a stack that has no file any more (a retained container)", () => {
    const aaron = user("aaron", ["ip: 10.10.0.99"]);
    const r = validator().validate([PLATFORM, aaron], { holder: holding({ "ip 10.10.0.99": "gone" }) });
    expect(r.errors.map(formatPositionedError)).toEqual([
      expect.stringMatching(/^stacks\/aaron\.yaml:\d+:\d+: ip 10\.10\.0\.99 is already held by stack gone; an address belongs to one instance/),
    ]);
  });

  it("still refuses a value claimed twice inside the holder's own file", () => {
    const dan = user("dan", ["ip: 10.10.0.40"]);
    dan.text += "  - name: two\n    template: debian-12\n    plan: small\n    power: running\n    ip: 10.10.0.40\n";
    const r = validator().validate([PLATFORM, dan], { holder: holding({ "ip 10.10.0.40": "dan" }) });
    expect(r.errors.map((e) => e.code)).toEqual(["set.ip-conflict", "set.ip-conflict"]);
  });

  it("without a holder, blames every side exactly as validateStackSet", () => {
    const aaron = user("aaron", ["vmid: 2001"]);
    expect(validator().validate([PLATFORM, ALICE, aaron], { holder: () => undefined })).toEqual(validateStackSet([PLATFORM, ALICE, aaron]));
  });
});
