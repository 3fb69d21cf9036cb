// What a post-deploy hook is: data (type + parameters) handled by one handler per type.
import type { z } from "zod";
import type { Logger } from "../lib/logger.js";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";

/** One instance as the engine knows it after a successful apply. */
export interface AppliedInstance {
  name: string;
  vmid: number;
  ip: string;
  power: "running" | "stopped";
  /** Created or changed by this apply (hooks that only need new/changed instances look here). */
  changed: boolean;
}

export interface HookContext {
  /** Stack name (= user stack file name). */
  stack: string;
  spec: UserStackSpec;
  platform: PlatformSpec;
  instances: AppliedInstance[];
  signal: AbortSignal;
  log: Logger;
}

/** What a hook run reports; recorded on the run. */
export interface HookResult {
  /** Whether the run changed anything (a second run of a converged hook reports false). */
  changed: boolean;
  /** Short human-readable output, no secrets. */
  output: string;
}

export interface HookHandler<P = unknown> {
  /** The hook type, as it appears in hook data, e.g. `ssh-harden`. */
  type: string;
  /** Parameters of this hook type. */
  params: z.ZodType<P>;
  /** Timeout of one run. */
  timeoutMs: number;
  run(ctx: HookContext, params: P): Promise<HookResult>;
  /**
   * Drops what the hook keeps on behalf of a stack whose resources were destroyed (the VPN peer, …),
   * so nothing of it lingers to be handed to the next tenant. Called once after a successful destroy.
   */
  destroyed?(ctx: DestroyedContext): Promise<HookResult>;
}

/** What a hook learns about a destroyed stack. */
export interface DestroyedContext {
  stack: string;
  signal: AbortSignal;
  log: Logger;
}

/** A hook as data: its type and its parameters (checked by the handler's `params` schema). */
export interface HookData {
  type: string;
  params?: unknown;
}

/** How one hook run ended; `failed` records carry a code and a reason the engine shows and retries on. */
export interface HookRunRecord {
  type: string;
  status: "succeeded" | "failed";
  changed: boolean;
  /** Short human-readable output (empty on failure), no secrets. */
  output: string;
  /** Present when `status` is `failed`. */
  error?: { code: string; kind: "stall" | "retry" | "bug"; reason: string };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
}

/** What the engine concludes from a run's records: ready, or degraded with the reasons to show and retry on. */
export type HookOutcome = { status: "ok" } | { status: "degraded"; reason: string; retry: boolean };

export function hookOutcome(records: readonly HookRunRecord[]): HookOutcome {
  const failed = records.filter((r) => r.status === "failed");
  if (failed.length === 0) return { status: "ok" };
  return {
    status: "degraded",
    reason: failed.map((r) => `${r.type}: ${r.error?.reason ?? "failed"}`).join("; "),
    // A stall means the spec must change first; retrying it unchanged would fail the same way.
    retry: failed.some((r) => r.error?.kind !== "stall"),
  };
}
