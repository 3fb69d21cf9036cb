// The Markdown report stays one comment: bounded length, balanced <details>, the verdict and failures always shown.
import { describe, expect, it } from "vitest";
import type { CheckReport, StackChange } from "./check.js";
import { MAX_REPORT_CHARS, renderMarkdown, REPORT_MARKER } from "./report-markdown.js";

function stack(i: number): StackChange {
  return {
    stack: `user${i}`,
    path: `stacks/user${i}.yaml`,
    status: "modified",
    applicable: true,
    created: Array.from({ length: 30 }, (_, k) => `box${k}`),
    changed: [],
    replaced: [],
    destroyed: [{ instance: "old", reasons: ["removing instance old destroys its container (VMID 2100) and its disk"] }],
    settings: [],
    hostnames: { added: Array.from({ length: 30 }, (_, k) => `user${i}-box${k}-www.example.com`), removed: [] },
    pointsPerDay: { before: 24, after: 744 },
  };
}

function report(stacks: StackChange[], violations = 0): CheckReport {
  return {
    ok: false,
    base: "a".repeat(40),
    head: "working tree",
    changedFiles: stacks.map((s) => ({ path: s.path, status: "modified" as const })),
    violations: Array.from({ length: violations }, (_, k) => ({
      path: "stacks/user0.yaml",
      line: k + 1,
      col: 3,
      code: "schema.x",
      message: `bad <thing> ${k}`,
    })),
    preexisting: [],
    ownership: { checked: false, errors: [] },
    stacks,
    platformChanged: false,
    replacements: 0,
    destroys: stacks.length,
    allowReplace: false,
    allowDestroy: false,
    failures: [`${stacks.length} containers destroyed; allow with --allow-destroy`],
  };
}

const balanced = (md: string) => (md.match(/<details>/g) ?? []).length === (md.match(/<\/details>/g) ?? []).length;

describe("renderMarkdown", () => {
  it("a small report: marker, verdict, failures, table row, collapsed details, escaped messages", () => {
    const md = renderMarkdown(report([stack(1)], 1));
    expect(md.split("\n").slice(0, 2)).toEqual([REPORT_MARKER, "### proxstack check: ❌ failed"]);
    expect(md).toContain("- 1 containers destroyed; allow with --allow-destroy");
    expect(md).toContain("| user1 | 30 | 0 | 0 | **1** | +30 −0 | 24 → 744 (+720) |");
    expect(md).toContain("- `stacks/user0.yaml:1:3`: bad &lt;thing&gt; 0");
    expect(md).toContain("<details><summary><b>user1</b> (stacks/user1.yaml, modified): 30 created, 1 destroyed</summary>");
    expect(balanced(md)).toBe(true);
  });

  it("a huge change stays under the limit, keeps the verdict and says what was left out", () => {
    const md = renderMarkdown(
      report(
        Array.from({ length: 400 }, (_, i) => stack(i)),
        500,
      ),
    );
    expect(md.length).toBeLessThanOrEqual(MAX_REPORT_CHARS);
    expect(md).toContain("### proxstack check: ❌ failed");
    expect(md).toContain("- … and 450 more");
    expect(md).toMatch(/_… \d+ more sections left out to keep this comment under 60000 characters; run `proxstack check --json` for everything\._/);
    expect(balanced(md)).toBe(true);
  });

  it("a tight budget cuts inside a details block and still closes it", () => {
    const md = renderMarkdown(report([stack(1), stack(2)]), { maxChars: 2500 });
    expect(md.length).toBeLessThanOrEqual(2500);
    expect(balanced(md)).toBe(true);
    expect(md).toMatch(/left out/);
  });
});
