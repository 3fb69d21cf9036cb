// `proxstack plan` and `up` beside a stopped engine: inputs from outside the files (VPN peer addresses) come from the last recorded apply,
// so the plan shows no change the files did not make and an apply does not shut the owner's VPN out.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { composeEngine } from "../app/compose.js";
import { silentLogger } from "../lib/logger.js";
import { loadConfig } from "../schemas/config.js";
import type { CliIo } from "./cli.js";
import { main } from "./proxstack.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "proxstack-plan-"));
const env = { PROXSTACK_DATA_DIR: join(dir, "data"), LOG_LEVEL: "silent" };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env, cwd: ROOT };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

describe("proxstack plan beside a stopped engine", () => {
  it("reports no firewall change for alice: her VPN peer address is taken from the last recorded apply, and the plan says so", async () => {
    // The engine applies with the VPN service answering 10.99.0.5 for alice, then stops.
    const composed = await composeEngine(loadConfig(env, ROOT), {
      log: silentLogger(),
      repoRoot: ROOT,
      options: { watch: false, resyncIntervalMs: 0, refreshIntervalMs: 0 },
      vpnPeerAddresses: (spec) => Promise.resolve(spec.name === "alice" ? ["10.99.0.5"] : []),
    });
    await composed.engine.start();
    await composed.engine.idle();
    const applied = composed.engine.store.listRuns("alice").find((r) => r.action === "up" && r.state === "succeeded");
    expect(applied?.outputs).toMatchObject({ vpnPeerAddresses: ["10.99.0.5"] });
    await composed.close();

    const plan = await run(["plan", "alice", "--json"]);
    expect(plan.code).toBe(0);
    const p = JSON.parse(plan.stdout) as { steps: { op: string; name: string }[]; externalInputs: unknown };
    expect(
      p.steps
        .filter((s) => s.name.endsWith("/firewall-rules"))
        .map((s) => `${s.op} ${s.name}`)
        .sort(),
    ).toEqual(["same alice/dev/firewall-rules", "same alice/web/firewall-rules"]);
    expect(p.steps.filter((s) => s.op !== "same")).toEqual([]);
    expect(p.externalInputs).toEqual({ vpnPeerAddresses: ["10.99.0.5"], source: "last-recorded-apply", runId: applied?.id, at: applied?.finishedAt });

    const text = await run(["plan", "alice"]);
    expect(text.stdout).toContain(
      `inputs from outside the files: VPN peer addresses 10.99.0.5, as recorded by the last apply (run ${applied?.id} at ${applied?.finishedAt}); the VPN service was not asked`,
    );
    expect(text.stdout).toContain("summary: same");
  }, 180_000);

  it("proxstack up without the VPN service applies the peer addresses of the last recorded apply, not none", async () => {
    // A change of alice's file for `up` to apply (her web's rate limit).
    const file = join(env.PROXSTACK_DATA_DIR, "stacks", "alice.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("rateLimitMBps: 50", "rateLimitMBps: 60"));
    const up = await run(["up", "alice", "--json"]);
    expect([up.code, up.stderr]).toEqual([0, ""]);
    const composed = await composeEngine(loadConfig(env, ROOT), { log: silentLogger(), repoRoot: ROOT, options: { watch: false, resyncIntervalMs: 0 } });
    const runs = composed.engine.store.listRuns("alice").filter((r) => r.action === "up" && r.state === "succeeded");
    await composed.close();
    expect(runs.length).toBe(2);
    expect(runs.map((r) => r.outputs)).toMatchObject([{ vpnPeerAddresses: ["10.99.0.5"] }, { vpnPeerAddresses: ["10.99.0.5"] }]);
  }, 180_000);
});
