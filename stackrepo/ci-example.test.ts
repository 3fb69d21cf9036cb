// The example CI workflow (examples/github-actions/stacks-check.yml): it parses, its comment script compiles and finds the report's
// marker, and its check step, run by bash as the runner would, writes the report and the exit code on a real git clone.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPORT_MARKER } from "./report-markdown.js";
import { CHECKOUT, createGitFixture } from "./testing/git-fixture.js";

interface Step {
  name?: string;
  id?: string;
  run?: string;
  uses?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Workflow {
  on: { pull_request: { paths: string[] } };
  permissions: Record<string, string>;
  env: Record<string, string>;
  jobs: { check: { steps: Step[] } };
}

const file = join(CHECKOUT, "examples/github-actions/stacks-check.yml");
const workflow = parse(readFileSync(file, "utf8"), { strict: true, uniqueKeys: true }) as Workflow;
const steps = workflow.jobs.check.steps;
const step = (name: string): Step => {
  const s = steps.find((x) => x.name?.startsWith(name));
  if (!s) throw new Error(`no step ${name}`);
  return s;
};
const fx = createGitFixture("ci-");
afterAll(() => fx.cleanup());

describe("examples/github-actions/stacks-check.yml", () => {
  it("parses as YAML: pull requests touching stack files, least permissions, the steps in order", () => {
    expect(workflow.on.pull_request.paths).toContain("stacks/**");
    expect(workflow.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(steps.map((s) => s.name ?? s.uses)).toEqual([
      "Check out the pull request (full history, so the base revision is known)",
      "Check out proxstack",
      "actions/setup-node@v4",
      "Install proxstack",
      "proxstack check",
      "pulumi preview (where the CLI and credentials exist)",
      "Post or update the one report comment",
      "Fail when the check failed",
    ]);
    expect(steps[0]?.with?.["fetch-depth"]).toBe(0);
  });

  it("the comment script compiles and looks for the marker the report starts with", () => {
    const script = String(step("Post or update").with?.script);
    const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...args: string[]) => unknown;
    expect(() => new AsyncFunction("require", "github", "context", "core", script)).not.toThrow();
    expect(script).toContain(`const marker = "${REPORT_MARKER}";`);
  });

  it("the check step, run by bash: exit 0 for an owner's clean change, 1 for a change to someone else's file, report.md and report.json written", () => {
    const repo = fx.clone("repo");
    const base = fx.git(repo, ["rev-parse", "HEAD"]);
    const run = String(step("proxstack check").run);
    const runStep = (): { exit: string; md: string; json: { ok: boolean } } => {
      const out = join(fx.root, "github-output");
      writeFileSync(out, "");
      execFileSync("bash", ["-e", "-c", run], {
        cwd: fx.root,
        env: {
          ...process.env,
          GITHUB_OUTPUT: out,
          BASE_SHA: base,
          HEAD_SHA: fx.git(repo, ["rev-parse", "HEAD"]),
          PROXSTACK_TOOL: CHECKOUT,
          STACKS_DIR: workflow.env.STACKS_DIR,
          LOG_LEVEL: "silent",
        },
        stdio: "pipe",
      });
      return {
        exit: readFileSync(out, "utf8").trim(),
        md: readFileSync(join(fx.root, "report.md"), "utf8"),
        json: JSON.parse(readFileSync(join(fx.root, "report.json"), "utf8")) as { ok: boolean },
      };
    };
    fx.write(repo, "alice.yaml", fx.read(repo, "alice.yaml").replace("power: stopped", "power: running"));
    fx.commit(repo, "alice starts dev", "alice@example.com");
    const ok = runStep();
    expect(ok.exit).toBe("exit=0");
    expect(ok.md.startsWith(`${REPORT_MARKER}\n### proxstack check: ✅ passed`)).toBe(true);
    expect(ok.md).toContain("- change `dev` in place: power");
    expect(ok.json.ok).toBe(true);

    fx.write(repo, "bob.yaml", fx.read(repo, "bob.yaml").replace("plan: small", "plan: medium"));
    fx.commit(repo, "alice edits bob", "alice@example.com");
    const refused = runStep();
    expect(refused.exit).toBe("exit=1");
    expect(refused.md).toContain("- `stacks/bob.yaml:1:1`: alice@example.com may not change this file");
  }, 120_000);
});
