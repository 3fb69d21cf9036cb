// Property: random mutations of valid files never crash the validator; every verdict is "valid" or positioned errors.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateStackSet, type StackFileInput } from "./validate.js";

const names = ["platform.yaml", "alice.yaml", "bob.yaml", "carol.yaml"];
const examples: StackFileInput[] = names.map((n) => ({ path: `stacks/${n}`, text: readFileSync(new URL(`../stacks/${n}`, import.meta.url), "utf8") }));

// Fragments that matter to YAML and to the schema: indicators, anchors, tags, quotes, numbers, keys.
const TOKENS = [
  ":",
  ": ",
  "- ",
  "\n",
  "\n  ",
  "  ",
  "#",
  "&a ",
  "*a",
  "!!str ",
  "!x ",
  "'",
  '"',
  "[",
  "]",
  "{",
  "}",
  ",",
  "---\n",
  "...",
  "|",
  ">",
  "<<: ",
  "~",
  "null",
  "0",
  "-1",
  "1e9",
  "2001",
  "10.10.0.21",
  "yes",
  "\t",
  "\u0000",
  "\uFEFF",
  "é",
  "name: ",
  "vmid: ",
  "kind: Platform",
  "instances: ",
];

type Mutation = (text: string) => string;
const at = (text: string, f: number) => Math.floor(f * (text.length + 1));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...TOKENS)).map(
    ([f, tok]) =>
      (t: string) =>
        t.slice(0, at(t, f)) + tok + t.slice(at(t, f)),
  ),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.string({ maxLength: 8 })).map(
    ([f, s]) =>
      (t: string) =>
        t.slice(0, at(t, f)) + s + t.slice(at(t, f)),
  ),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 40 })).map(
    ([f, n]) =>
      (t: string) =>
        t.slice(0, at(t, f)) + t.slice(at(t, f) + n),
  ),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => (t: string) => {
    const lines = t.split("\n");
    const i = a % lines.length;
    const j = b % lines.length;
    [lines[i], lines[j]] = [lines[j] ?? "", lines[i] ?? ""];
    return lines.join("\n");
  }),
  fc.nat().map((a) => (t: string) => {
    const lines = t.split("\n");
    const i = a % lines.length;
    lines.splice(i, 0, lines[i] ?? "");
    return lines.join("\n");
  }),
);

describe("validator under random mutation", () => {
  it("never throws, and reports valid or errors with positions inside the file", () => {
    fc.assert(
      fc.property(fc.nat({ max: examples.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, muts) => {
        const target = examples[which] as StackFileInput;
        const text = muts.reduce((t, m) => m(t), target.text as string);
        const set = examples.map((e) => (e === target ? { path: e.path, text } : e));
        const report = validateStackSet(set);
        const file = report.files.find((f) => f.path === target.path);
        expect(file).toBeDefined();
        if (!file) return;
        expect(file.valid).toBe(file.errors.length === 0);
        expect(report.valid).toBe(report.files.every((f) => f.valid));
        const lineCount = text.split("\n").length;
        for (const e of report.errors) {
          expect(Number.isInteger(e.line) && e.line >= 1).toBe(true);
          expect(Number.isInteger(e.col) && e.col >= 1).toBe(true);
          expect(e.message.length).toBeGreaterThan(0);
          expect(e.code).toMatch(/^(yaml|schema|file|set)\./);
          if (e.path === target.path) expect(e.line).toBeLessThanOrEqual(lineCount);
        }
        // Only valid user files are handed to the engine.
        for (const u of report.users) expect(report.files.find((f) => f.path === u.path)?.valid).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const report = validateStackSet([{ path: "stacks/x.yaml", text: bytes }, examples[0] as StackFileInput]);
        const file = report.files.find((f) => f.path === "stacks/x.yaml");
        expect(file?.valid).toBe(false);
        expect(file?.errors.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });
});
