// Parity of the fast path (js-yaml, positions on demand) with the positioned slow path: same verdicts, specs and errors.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FIXTURE_DIR, fixtureNames, fixtureSet } from "../test/fixtures/stackfiles/corpus.js";
import { parseStackFile, parseStackFileFast } from "./parse.js";
import { validateStackSet, type StackFileInput } from "./validate.js";

const names = ["platform.yaml", "alice.yaml", "bob.yaml", "carol.yaml"];
const examples: StackFileInput[] = names.map((n) => ({ path: `stacks/${n}`, text: readFileSync(new URL(`../stacks/${n}`, import.meta.url), "utf8") }));
const users = examples.slice(1);

/** Applies `edit` to line `a` (mod the line count). */
function onLine(text: string, a: number, edit: (line: string) => string): string {
  const lines = text.split("\n");
  const i = a % lines.length;
  lines[i] = edit(lines[i] ?? "");
  return lines.join("\n");
}

/** The fast path's verdict on one file agrees with the slow path's: accepted ⇒ valid there too, with an equal spec. */
function expectFileParity(f: StackFileInput): boolean {
  const fast = parseStackFileFast(f.path, f.text);
  const slow = parseStackFile(f.path, f.text, { fastPath: false });
  if (fast === undefined) return false;
  expect(fast.ok && slow.ok).toBe(true);
  if (fast.ok && slow.ok) {
    expect(fast.kind).toBe(slow.kind);
    expect(fast.spec).toEqual(slow.spec);
  }
  return true;
}

/** Whole-set reports are identical with and without the fast path (verdicts, errors, specs handed on). */
function expectSetParity(files: readonly StackFileInput[]): void {
  expect(validateStackSet(files)).toEqual(validateStackSet(files, { fastPath: false }));
}

describe("fast path parity", () => {
  it("takes the fast path for the example user files and reads them exactly as the slow path does", () => {
    for (const f of users) expect(expectFileParity(f), f.path).toBe(true);
    expectSetParity(examples);
  });

  it("builds the Document on demand: positions and doc equal the slow path's", () => {
    const alice = users[0] as StackFileInput;
    const fast = parseStackFileFast(alice.path, alice.text);
    const slow = parseStackFile(alice.path, alice.text, { fastPath: false });
    if (!fast?.ok || !slow.ok) throw new Error("alice.yaml should be valid on both paths");
    for (const p of [["name"], ["instances", 0, "vmid"], ["instances", 1, "ip"], ["sshKeys", 1]]) {
      expect(fast.source.locate(p)).toEqual(slow.source.locate(p));
    }
    expect(fast.doc.toString()).toBe(slow.doc.toString());
  });

  it("blames fast-path files in cross-file conflicts at the same positions", () => {
    const alice = users[0] as StackFileInput;
    const twin = { path: "stacks/alice2.yaml", text: (alice.text as string).replace("name: alice", "name: alice2") };
    const set = [...examples, twin];
    expect(parseStackFileFast(twin.path, twin.text)).toBeDefined();
    const report = validateStackSet(set);
    expect(report.errors.some((e) => e.path === twin.path && e.code === "set.vmid-conflict")).toBe(true);
    expectSetParity(set);
  });

  it.each(fixtureNames())("fixture %s: same verdict and identical errors on both paths", (name) => {
    const set = fixtureSet(name);
    const fixture = set.find((f) => f.path === `${FIXTURE_DIR}/${name}`);
    expect(fixture).toBeDefined();
    if (fixture) expectFileParity(fixture);
    expectSetParity(set);
  });

  it("agrees under random mutation of the example user files", () => {
    const TOKENS = [
      ":",
      ": ",
      "- ",
      "\n",
      "\n  ",
      "  ",
      "#",
      " #",
      "&a ",
      "*a",
      "!!str ",
      "'",
      '"',
      "[",
      "]",
      "{",
      "}",
      ",",
      "? ",
      "|",
      ">",
      "~",
      "null",
      "0",
      "0o17",
      "0x1F",
      "1_000",
      "-1",
      "1e9",
      ".5",
      "2001",
      "10.10.0.21",
      "true",
      "yes",
      "\r\n",
      "é",
      "name: ",
      "vmid: ",
      "ip: ",
      "[name]: ",
      "__proto__: ",
    ];
    const at = (t: string, f: number) => Math.floor(f * (t.length + 1));
    let fastTaken = 0;
    let runs = 0;
    fc.assert(
      fc.property(
        fc.nat({ max: users.length - 1 }),
        fc.array(
          fc.oneof(
            fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...TOKENS)).map(
              ([f, tok]) =>
                (t: string) =>
                  t.slice(0, at(t, f)) + tok + t.slice(at(t, f)),
            ),
            fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 12 })).map(
              ([f, n]) =>
                (t: string) =>
                  t.slice(0, at(t, f)) + t.slice(at(t, f) + n),
            ),
            // Edits that usually keep the file valid, so the fast path is exercised too.
            fc.tuple(fc.nat(), fc.constantFrom(" # note", "   ", "\n", "\n# comment")).map(
              ([a, tail]) =>
                (t: string) =>
                  onLine(t, a, (l) => l + tail),
            ),
            fc.tuple(fc.nat(), fc.constantFrom('"', "'")).map(
              ([a, q]) =>
                (t: string) =>
                  onLine(t, a, (l) => l.replace(/: ([^\s"'{[#][^#]*?)\s*$/, `: ${q}$1${q}`)),
            ),
            fc.nat().map((a) => (t: string) => onLine(t, a, (l) => l.replace(": ", ":    "))),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        (which, muts) => {
          const target = users[which] as StackFileInput;
          const text = muts.reduce((t, m) => m(t), target.text as string);
          const file = { path: target.path, text };
          runs++;
          if (expectFileParity(file)) fastTaken++;
          expectSetParity(examples.map((e) => (e === target ? file : e)));
        },
      ),
      { numRuns: 500 },
    );
    // Not vacuous: a good share of the mutated files (comments, spacing, other valid values) stay on the fast path.
    process.stderr.write(`fast path taken for ${fastTaken} of ${runs} mutated files\n`);
    expect(fastTaken).toBeGreaterThan(runs / 10);
  });
});
