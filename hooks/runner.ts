// The hook runner: validates each hook's parameters, runs it under its timeout and records the outcome; never throws for a hook.
import { chainMessage, kindOf, ProxstackError } from "../lib/errors.js";
import { systemClock, type Clock } from "../lib/clock.js";
import type { Logger } from "../lib/logger.js";
import type { HookContext, HookData, HookRunRecord } from "./hook.js";
import type { HookRegistry } from "./registry.js";
import { cleanRemoteText } from "../ssh/remote-text.js";

export interface HookRunnerDeps {
  handlers: HookRegistry;
  log: Logger;
  clock?: Clock;
}

export interface HookRunner {
  /** Runs the hooks in order; each gets a record, a failure never stops the next hook. */
  run(ctx: HookContext, hooks: readonly HookData[]): Promise<HookRunRecord[]>;
}

class HookTimeout extends ProxstackError {
  constructor() {
    super("hook-timeout", "hook timed out", { kind: "retry" });
  }
}

export function createHookRunner(deps: HookRunnerDeps): HookRunner {
  const clock = deps.clock ?? systemClock;

  async function runOne(ctx: HookContext, hook: HookData): Promise<HookRunRecord> {
    const started = clock.now();
    const log = deps.log.child({ stack: ctx.stack, hook: hook.type });
    const finish = (r: Pick<HookRunRecord, "status" | "changed" | "output" | "error">): HookRunRecord => {
      const ended = clock.now();
      // Output and reasons carry text from containers into status and onto operators' terminals.
      const record: HookRunRecord = {
        type: hook.type,
        ...r,
        output: cleanRemoteText(r.output),
        ...(r.error ? { error: { ...r.error, reason: cleanRemoteText(r.error.reason) } } : {}),
        startedAt: started.toISOString(),
        finishedAt: ended.toISOString(),
        durationMs: ended.getTime() - started.getTime(),
      };
      if (record.error) log.warn({ code: record.error.code, reason: record.error.reason, durationMs: record.durationMs }, "hook failed");
      else log.info({ changed: r.changed, durationMs: record.durationMs }, "hook succeeded");
      return record;
    };
    const fail = (code: string, kind: "stall" | "retry" | "bug", reason: string) =>
      finish({ status: "failed", changed: false, output: "", error: { code, kind, reason } });

    const handler = deps.handlers.get(hook.type);
    if (!handler) {
      return fail("hook-unknown-type", "stall", `unknown hook type '${hook.type}' (known: ${deps.handlers.types().join(", ") || "none"})`);
    }
    const parsed = handler.params.safeParse(hook.params ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "params"}: ${i.message}`).join("; ");
      return fail("hook-invalid-params", "stall", `invalid parameters: ${issues}`);
    }
    if (ctx.signal.aborted) return fail("hook-aborted", "retry", "aborted before it started");

    const timeout = new AbortController();
    const signal = AbortSignal.any([ctx.signal, timeout.signal]);
    let onAbort: () => void = () => undefined;
    // Race the handler against its deadline, so a handler that ignores its signal still ends on time.
    const deadline = new Promise<never>((_, reject) => {
      onAbort = () => reject(timeout.signal.aborted ? new HookTimeout() : new ProxstackError("hook-aborted", "aborted", { kind: "retry" }));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    deadline.catch(() => undefined);
    const timer = setTimeout(() => timeout.abort(), handler.timeoutMs);
    try {
      const result = await Promise.race([handler.run({ ...ctx, signal, log }, parsed.data), deadline]);
      return finish({ status: "succeeded", changed: result.changed, output: result.output });
    } catch (err) {
      if (err instanceof HookTimeout || (timeout.signal.aborted && !ctx.signal.aborted)) {
        return fail("hook-timeout", "retry", `did not finish within ${Math.round(handler.timeoutMs / 1000)}s`);
      }
      if (err instanceof ProxstackError) return fail(err.code, err.kind, chainMessage(err));
      return fail("hook-failed", kindOf(err), chainMessage(err));
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      // Tell a handler still running in the background (after a timeout) to stop.
      if (!timeout.signal.aborted) timeout.abort();
    }
  }

  return {
    async run(ctx, hooks) {
      const records: HookRunRecord[] = [];
      for (const hook of hooks) records.push(await runOne(ctx, hook));
      return records;
    },
  };
}
