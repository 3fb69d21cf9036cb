import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { PostApplyHooks } from "./reconciler.js";
import { engineOnFake, waitFor } from "./testing/engine-test-support.js";

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

describe("hooks after a destroy (fake runner, real SQLite)", () => {
  it("tells the hooks a stack was destroyed once its destroy succeeded, after its host pins were dropped", async () => {
    const root = mkdtempSync(join(tmpdir(), "pxs-destroy-hooks-"));
    const stacks = join(root, "stacks");
    cpSync(new URL("../stacks", import.meta.url), stacks, { recursive: true });
    const calls: string[] = [];
    const hooks: PostApplyHooks = {
      run: () => Promise.resolve([]),
      forgetHosts: (ips) => void calls.push(`forget ${ips.join(",")}`),
      destroyed: (stack) => {
        calls.push(`destroyed ${stack}`);
        return Promise.resolve();
      },
    };
    const { engine } = engineOnFake(stacks, join(root, "status.db"), { hooks });
    cleanups.push(
      () => rmSync(root, { recursive: true, force: true }),
      async () => {
        await engine.stop();
        engine.store.close();
      },
    );
    await engine.start();
    await waitFor(() => engine.store.getStack("carol")?.reason === "Applied", "carol applied");
    await engine.idle();
    calls.length = 0;

    await engine.destroy("carol");
    expect(engine.store.getStack("carol")?.reason).toBe("Destroyed");
    expect(calls).toEqual(["forget 10.10.0.20", "destroyed carol"]);
  });
});
