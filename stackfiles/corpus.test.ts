// The invalid-file corpus: every fixture under test/fixtures/stackfiles gives exactly its expected `line:col: message` list.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FIXTURE_DIR, fixtureNames, fixtureSet } from "../test/fixtures/stackfiles/corpus.js";
import { validateStackSet } from "./validate.js";

const expected = JSON.parse(readFileSync(new URL(`../${FIXTURE_DIR}/expected.json`, import.meta.url), "utf8")) as Record<string, string[]>;

describe("invalid-file corpus", () => {
  it("has at least 50 fixtures, each listed in expected.json with at least one error", () => {
    expect(fixtureNames().length).toBeGreaterThanOrEqual(50);
    expect(Object.keys(expected).sort()).toEqual(fixtureNames());
    for (const [name, errors] of Object.entries(expected)) expect(errors.length, name).toBeGreaterThan(0);
  });

  it("covers every hostile case", () => {
    for (const name of ["dup-key", "alias-bomb", "oversize", "not-utf8", "multi-doc", "unknown-key-root", "deep-nesting", "proto-key", "tag-unknown"]) {
      expect(fixtureNames()).toContain(`${name}.yaml`);
    }
  });

  it.each(fixtureNames())("%s", (name) => {
    const report = validateStackSet(fixtureSet(name));
    const path = `${FIXTURE_DIR}/${name}`;
    const file = report.files.find((f) => f.path === path);
    expect(file?.valid).toBe(false);
    expect(report.users.some((u) => u.path === path)).toBe(false);
    expect(report.errors.filter((e) => e.path === path).map((e) => `${e.line}:${e.col}: ${e.message}`)).toEqual(expected[name]);
  });
});
