import { describe, expect, it } from "vitest";
import { z } from "zod";
import { manualClock } from "../lib/clock.js";
import { ProxstackError } from "../lib/errors.js";
import { silentLogger } from "../lib/logger.js";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import type { HookContext, HookHandler } from "./hook.js";
import { createHookRegistry } from "./registry.js";
import { hookOutcome } from "./hook.js";
import { createHookRunner } from "./runner.js";

function ctx(signal = new AbortController().signal): HookContext {
  return {
    stack: "alice",
    spec: { linuxUser: "alice", sshKeys: [] } as unknown as UserStackSpec,
    platform: {} as PlatformSpec,
    instances: [],
    signal,
    log: silentLogger(),
  };
}

const echo: HookHandler<{ word: string }> = {
  type: "echo",
  params: z.object({ word: z.string().min(1) }).strict(),
  timeoutMs: 1000,
  run: async (_c, p) => ({ changed: p.word === "change", output: `said ${p.word}` }),
};

const failing: HookHandler<Record<string, never>> = {
  type: "failing",
  params: z.object({}).strict(),
  timeoutMs: 1000,
  run: async () => {
    throw new ProxstackError("ssh-unreachable", "web: cannot connect", { kind: "retry" });
  },
};

const stuck: HookHandler<Record<string, never>> = {
  type: "stuck",
  params: z.object({}).strict(),
  timeoutMs: 50,
  // Ignores its signal on purpose: the runner must still end it.
  run: () => new Promise(() => undefined),
};

function runner() {
  return createHookRunner({ handlers: createHookRegistry([echo, failing, stuck]), log: silentLogger(), clock: manualClock(new Date("2026-11-25T10:00:00Z")) });
}

describe("hook runner", () => {
  it("runs hooks in order and records output and changed", async () => {
    const records = await runner().run(ctx(), [
      { type: "echo", params: { word: "change" } },
      { type: "echo", params: { word: "same" } },
    ]);
    expect(records.map((r) => [r.type, r.status, r.changed, r.output])).toEqual([
      ["echo", "succeeded", true, "said change"],
      ["echo", "succeeded", false, "said same"],
    ]);
    expect(records[0]?.startedAt).toBe("2026-11-25T10:00:00.000Z");
    expect(hookOutcome(records)).toEqual({ status: "ok" });
  });

  it.each([
    [{ type: "nope" }, "hook-unknown-type", "stall", /unknown hook type 'nope' \(known: echo, failing, stuck\)/],
    [{ type: "echo", params: { word: "" } }, "hook-invalid-params", "stall", /word: /],
    [{ type: "echo", params: { word: "x", extra: 1 } }, "hook-invalid-params", "stall", /extra/],
    [{ type: "failing" }, "ssh-unreachable", "retry", /web: cannot connect/],
    [{ type: "stuck" }, "hook-timeout", "retry", /did not finish within 0s/],
  ])("records a failure instead of throwing: %j", async (hook, code, kind, reason) => {
    const records = await runner().run(ctx(), [hook, { type: "echo", params: { word: "after" } }]);
    expect(records[0]).toMatchObject({ status: "failed", changed: false, error: { code, kind } });
    expect(records[0]?.error?.reason).toMatch(reason);
    // A failed hook never stops the next one.
    expect(records[1]).toMatchObject({ status: "succeeded", output: "said after" });
    const outcome = hookOutcome(records);
    expect(outcome.status).toBe("degraded");
    if (outcome.status === "degraded") {
      expect(outcome.reason).toContain(`${hook.type}: `);
      expect(outcome.retry).toBe(kind !== "stall");
    }
  });

  it("records an abort by the engine as a retryable failure", async () => {
    const ac = new AbortController();
    const pending = runner().run(ctx(ac.signal), [{ type: "stuck" }]);
    ac.abort();
    const [record] = await pending;
    expect(record?.error?.code).toBe("hook-aborted");
    expect(record?.error?.kind).toBe("retry");
  });

  it("refuses two handlers for one type", () => {
    expect(() => createHookRegistry([echo, echo])).toThrow(/two hook handlers for type 'echo'/);
  });
});

describe("hook records carry container text safely", () => {
  it("strips escape sequences and control characters from outputs and reasons, and caps their length", async () => {
    const hostile: HookHandler<{ fail: boolean }> = {
      type: "hostile",
      params: z.object({ fail: z.boolean() }).strict(),
      timeoutMs: 1000,
      run: async (_c, p) => {
        if (p.fail)
          throw new ProxstackError("ssh-command-failed", `web: visudo said \x1b]52;c;cm0gLXJmIH4=\x07\x1b[2Jok${"x".repeat(100_000)}`, { kind: "retry" });
        return { changed: true, output: "\x1b]0;title\x07\x1b[31mdone\x1b[0m\r" };
      },
    };
    const r = createHookRunner({ handlers: createHookRegistry([hostile]), log: silentLogger(), clock: manualClock(new Date("2026-11-25T10:00:00Z")) });
    const [ok, failed] = await r.run(ctx(), [
      { type: "hostile", params: { fail: false } },
      { type: "hostile", params: { fail: true } },
    ]);
    expect(ok?.output).toBe("done");
    expect(failed?.error?.reason).toBe(
      `web: visudo said ok${"x".repeat(2000 - "web: visudo said ok".length)}…(+${100_000 - (2000 - "web: visudo said ok".length)} characters cut)`,
    );
  });
});
