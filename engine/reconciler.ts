// Carries out decide() for one stack through the StackRunner: allocation, preview, guard, up or destroy, run record, hooks.
import type { Clock } from "../lib/clock.js";
import { createSerialGate } from "../lib/serial-gate.js";
import { chainMessage, ProxstackError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import { hookOutcome, type HookContext, type HookRunRecord } from "../hooks/hook.js";
import { PLATFORM_STACK, stackFileName, urnName } from "../programs/naming.js";
import { parseRunOutputs, PlatformStackOutputsSchema, UserStackOutputsSchema, type PlatformSpec, type UserStackSpec } from "../schemas/index.js";
import { allocate, takenBy } from "./allocation.js";
import { afterFailure, afterHooksFailed, decide, FILE_MISSING_KEY, type Decision, type Desired, type Transition } from "./decide.js";
import { askedReplacements, guardPlan, instanceOfStep } from "./plan-guard.js";
import type { RunEvent, StackRunner, StackTarget } from "../runners/runner.js";
import { routesOf } from "./spec-hash.js";
import type { StackIndex } from "./stack-index.js";
import type { StatusStore } from "./status/store.js";
import { REASONS } from "./status/vocabulary.js";
import type { RetryBook, WorkResult } from "./work-queue.js";

/** Post-deploy hooks as the engine calls them (hooks/runner.ts `createHookRunner` with the hook list bound). */
export interface PostApplyHooks {
  run(ctx: HookContext): Promise<HookRunRecord[]>;
  /** Forgets what hooks pinned for these addresses (host keys): their containers were replaced or destroyed. */
  forgetHosts?(ips: string[]): void;
  /** After a successful destroy: hooks drop what they keep for the stack (its VPN peer); never rejects. */
  destroyed?(stack: string): Promise<unknown>;
}

/** Which instances a spec change would destroy (programs/replacement.ts `replacementRisks`), by instance name. */
export type ReplacementCheck = (before: UserStackSpec, after: UserStackSpec, platform: PlatformSpec) => { instance: string; kind: "replace" | "destroy" }[];

/** Writes allocations into a stack file (compare-and-swap) and commits it; returns false when the file changed meanwhile. */
export type AllocationWriter = (stack: string, text: string, assignments: ReturnType<typeof allocate>) => Promise<boolean>;

export interface ReconcilerDeps {
  index: StackIndex;
  store: StatusStore;
  runner: StackRunner;
  clock: Clock;
  log: Logger;
  /** The work queue's retry book: failed runs and hooks count there, and take their pause from it. */
  retries: RetryBook;
  hooks?: PostApplyHooks;
  replacementRisks?: ReplacementCheck;
  writeAllocations: AllocationWriter;
  /** Called when an applied change touched routes (domains, IPs): the platform stack must follow. */
  onRoutesChanged(): void;
  /** When a stack whose file is missing is destroyed. @default DEFAULT_REMOVAL */
  removal?: RemovalOptions;
}

/** The brakes on destroying a stack whose file went missing. */
export interface RemovalOptions {
  /** How long a missing file waits before its resources are destroyed. @default 600000 (10 minutes) */
  graceMs: number;
  /** More missing files than this at once hold every removal until `proxstack destroy <stack>` confirms it. @default 3 */
  holdAboveStacks: number;
  /** …or more than this share of the known user stacks (at least two missing). @default 0.1 */
  holdAboveShare: number;
}

export const DEFAULT_REMOVAL: RemovalOptions = { graceMs: 10 * 60_000, holdAboveStacks: 3, holdAboveShare: 0.1 };

export interface Reconciler {
  /** One pass over one stack (the queue's worker). */
  reconcile(stack: string): Promise<WorkResult>;
  /** What decide() says for the stack now, without acting: the engine asks it whether a resync or a restart queues the stack. */
  decision(stack: string): Decision;
  /** Destroys a stack's resources now, whatever its file says (`proxstack destroy`); protected instances refuse. */
  destroy(stack: string): Promise<WorkResult>;
  /** Asks for a drift check (refresh) at the stack's next pass through the queue, so it never overlaps a run. */
  requestRefresh(stack: string): void;
}

type Step = WorkResult;

/** Whether a decision has anything to do: a run, a pause to wait out, or a status to record. */
export function needsPass(d: Decision): boolean {
  return d.action !== "noop" || d.transition !== undefined;
}

export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const { index, store, runner, clock, retries } = deps;
  const removalOpts = deps.removal ?? DEFAULT_REMOVAL;
  const allocationGate = createSerialGate();

  /**
   * Why every removal waits for a person, or undefined: more user stacks have a missing file than
   * `holdAboveStacks`, or more than `holdAboveShare` of the known ones (two at least: one file is never "together").
   */
  const removalHold = (): string | undefined => {
    const stacks = store.listStacks().filter((s) => s.name !== PLATFORM_STACK && s.hasResources);
    // A removal that stopped for good (Protected) is not on its way; neither are retained stacks.
    const stoppedForGood = (s: (typeof stacks)[number]): boolean => REASONS[s.reason].untilFileChanges && s.stoppedFor === FILE_MISSING_KEY;
    const missing = stacks.filter((s) => !index.get(s.name) && s.reason !== "Retained" && !stoppedForGood(s)).map((s) => s.name);
    const known = new Set([...index.names(), ...stacks.map((s) => s.name)]).size;
    const { holdAboveStacks: most, holdAboveShare: share } = removalOpts;
    if (missing.length < 2 || (missing.length <= most && missing.length <= share * known)) return undefined;
    const which = missing.length > 5 ? `${missing.slice(0, 5).join(", ")} …` : missing.join(", ");
    const brake = `the brake holds above ${most}, or above ${Math.round(share * 100)}% of the stacks`;
    return `${missing.length} of ${known} stack files are missing at once (${which}; ${brake})`;
  };

  const desiredOf = (stack: string): Desired => {
    const platform = index.platform();
    if (stack === PLATFORM_STACK) {
      const hash = index.platformHash();
      return hash ? { kind: "present", hash } : { kind: "invalid", message: (platform.errors ?? []).join("\n") };
    }
    const e = index.get(stack);
    if (!e) {
      const hold = removalHold();
      return { kind: "absent", removalPolicy: platform.spec?.removalPolicy ?? "retain", graceMs: removalOpts.graceMs, ...(hold ? { hold } : {}) };
    }
    if (e.valid) return { kind: "present", hash: e.valid.hash };
    return { kind: "invalid", message: (e.errors ?? []).join("\n") };
  };

  const decision = (stack: string): Decision => decide(desiredOf(stack), store.getStack(stack), clock.now());

  /** Writes a transition through the store's mark functions, the only writers of a stack's condition. */
  const record = (stack: string, t: Transition): void => {
    switch (t.mark) {
      case "stalled":
        return store.markStalled(stack, t.reason, t.message, t.stoppedFor);
      case "failed":
        return store.markFailed(stack, t);
      case "removed":
        return store.markRemoved(stack, t.how);
      case "applied":
        return store.markUpToDate(stack);
      case "pending-removal": {
        const file = stackFileName(stack);
        const message = t.hold
          ? `${file} is missing and so are others: ${t.hold}. ` + `Nothing is destroyed until 'proxstack destroy ${stack}' confirms it, or the files come back`
          : `${file} is missing: its resources are destroyed at ${t.at.toISOString()} unless the file comes back; ` +
            `'proxstack destroy ${stack}' destroys them now`;
        deps.log.warn({ stack, at: t.at.toISOString(), held: t.hold !== undefined }, "stack file missing; removal pending");
        return store.markPendingRemoval(stack, { at: t.at, held: t.hold !== undefined, message });
      }
      case "removal-cancelled":
        deps.log.info({ stack }, "stack file is back; pending removal cancelled");
        return store.cancelRemoval(stack);
    }
  };

  /** Fills missing VMIDs and IPs, serialised across stacks so two never take the same value. */
  const ensureAllocated = (stack: string): Promise<"ok" | "rewritten"> => {
    return allocationGate(async (): Promise<"ok" | "rewritten"> => {
      const e = index.get(stack);
      const platform = index.platform().spec;
      if (!e?.valid || !platform) return "ok";
      const spec = e.valid.spec;
      if (spec.instances.every((i) => i.vmid !== undefined && i.ip !== undefined)) return "ok";
      const others = index
        .names()
        .filter((n) => n !== stack)
        .map((n) => index.get(n))
        .flatMap((o) => (o?.valid ? [o.valid.spec] : o?.lastGood ? [o.lastGood] : []));
      // Live instances count as taken, this stack's own included: a renamed instance must not get the
      // VMID of the container it replaces, which exists until the run deletes it.
      const held = store.heldAllocations();
      const assignments = allocate(spec, platform, takenBy(others, held));
      const written = await deps.writeAllocations(stack, e.text, assignments);
      await index.reload(stack);
      deps.log.info({ stack, assignments, written }, "allocated VMIDs and IPs");
      return "rewritten";
    });
  };

  /** Records a failed attempt (and its run) with the status afterFailure() chooses; asks for the retry book's pause. */
  const fail = (stack: string, runId: number | undefined, err: unknown, stoppedFor: string): Step => {
    const message = chainMessage(err);
    const code = err instanceof ProxstackError ? err.code : "run-failed";
    if (runId !== undefined) store.finishRun(runId, { state: "failed", errorCode: code, errorMessage: message });
    const t = afterFailure(err, message, () => retries.failed(stack), clock.now(), stoppedFor);
    record(stack, t);
    if (t.mark !== "failed") return undefined;
    const delay = t.nextAttemptAt.getTime() - clock.now().getTime();
    deps.log.warn({ stack, failures: t.failures, delay, err: message }, "run failed; retrying");
    return { requeueAfterMs: delay };
  };

  const startRun = (stack: string, action: "up" | "destroy", hash: string | undefined): { id: number; onEvent: (e: RunEvent) => void } => {
    const run = store.createRun(stack, action, hash);
    store.startRun(run.id);
    store.markApplying(stack, run.id);
    return { id: run.id, onEvent: (e) => store.appendRunEvent(run.id, e) };
  };

  /** `up` for a user stack: allocation first (a rewritten file comes back as a new pass), then the guarded apply. */
  const upUser = async (stack: string): Promise<Step> => {
    const platform = index.platform().spec;
    const valid = index.get(stack)?.valid;
    if (!platform || !valid) return undefined;
    try {
      if ((await ensureAllocated(stack)) === "rewritten") return { requeueAfterMs: 0 };
    } catch (err) {
      return fail(stack, undefined, err, valid.hash);
    }
    const current = index.get(stack)?.valid;
    return current ? applyUser(stack, current.spec, current.hash, platform) : undefined;
  };

  const applyUser = async (stack: string, spec: UserStackSpec, hash: string, platform: PlatformSpec): Promise<Step> => {
    const before = store.getStack(stack)?.appliedSpec;
    const target: StackTarget = { kind: "user", name: stack, spec, platform };
    const run = startRun(stack, "up", hash);
    try {
      const preview = await runner.preview(target, { onEvent: run.onEvent });
      const asked =
        deps.replacementRisks && before
          ? new Set(
              deps
                .replacementRisks(before, spec, platform)
                .filter((r) => r.kind === "replace")
                .map((r) => r.instance),
            )
          : askedReplacements(before, spec);
      const verdict = guardPlan(stack, preview.steps, before, spec, asked);
      if (!verdict.ok) {
        store.finishRun(run.id, { state: "failed", errorCode: verdict.reason === "Protected" ? "protected" : "unsafe-plan", errorMessage: verdict.message });
        record(stack, { mark: "stalled", reason: verdict.reason, message: verdict.message, stoppedFor: hash });
        return undefined;
      }
      const result = await runner.up(target, { onEvent: run.onEvent });
      // A replaced or deleted container's address may come back with a new host key: drop the old pin.
      const gone = new Set(preview.steps.filter((s) => s.op === "replace" || s.op === "delete" || s.op === "delete-replaced").map(instanceOfStep));
      deps.hooks?.forgetHosts?.((before?.instances ?? []).filter((i) => gone.has(i.name) && i.ip).map((i) => i.ip!));
      const outputs = parseRunOutputs(UserStackOutputsSchema, result.outputs, `${stack}: run ${run.id}`);
      store.finishRun(run.id, { state: "succeeded", outputs });
      const changed = new Set(
        result.changed
          .map((urn) => instanceOfStep({ urn, type: "", name: urnName(urn), op: "update", inputs: {} }))
          .filter((n): n is string => n !== undefined),
      );
      const hookFailedBefore = new Set(
        store
          .listInstances(stack)
          .filter((i) => i.state === "hook-failed")
          .map((i) => i.name),
      );
      const instances = spec.instances.map((i) => {
        const out = outputs.instances.find((o) => o.name === i.name);
        if (!out) {
          throw new ProxstackError("outputs-invalid", `${stack}: run ${run.id}: the outputs lack instance ${i.name} of the stack file`, { kind: "bug" });
        }
        const isNew = !before?.instances.some((b) => b.name === i.name);
        return { name: i.name, vmid: out.vmid, ip: out.ip, power: out.power, changed: changed.has(i.name) || hookFailedBefore.has(i.name) || isNew };
      });
      for (const i of instances)
        store.upsertInstance({ stack, name: i.name, vmid: i.vmid, ip: i.ip, power: i.power, state: deps.hooks ? "provisioning" : "ready" });
      store.removeInstances(
        stack,
        instances.map((i) => i.name),
      );
      store.markApplied(stack, hash, spec);
      if (JSON.stringify(routesOf(spec)) !== JSON.stringify(before ? routesOf(before) : [])) deps.onRoutesChanged();
      return await runHooks(stack, spec, platform, instances, run.onEvent);
    } catch (err) {
      return fail(stack, store.getRun(run.id)?.state === "running" ? run.id : undefined, err, hash);
    }
  };

  const runHooks = async (
    stack: string,
    spec: UserStackSpec,
    platform: PlatformSpec,
    instances: HookContext["instances"],
    onEvent: (e: RunEvent) => void,
  ): Promise<Step> => {
    if (!deps.hooks) return undefined;
    const records = await deps.hooks.run({ stack, spec, platform, instances, signal: new AbortController().signal, log: deps.log.child({ stack }) });
    // Each hook's outcome is recorded on the run it followed, so status and the portal show it.
    for (const r of records) {
      const detail = r.error ? `${r.error.code}: ${r.error.reason}` : `${r.changed ? "changed" : "no change"}${r.output ? ` — ${r.output}` : ""}`;
      onEvent({
        at: r.finishedAt,
        type: "diagnostic",
        severity: r.status === "succeeded" ? "info" : "error",
        message: `hook ${r.type} ${r.status}: ${detail}`,
      });
    }
    const outcome = hookOutcome(records);
    const state = outcome.status === "ok" ? "ready" : "hook-failed";
    for (const i of instances) if (i.changed || state === "ready") store.upsertInstance({ stack, name: i.name, vmid: i.vmid, ip: i.ip, power: i.power, state });
    if (outcome.status === "ok") return undefined;
    const t = afterHooksFailed(outcome.reason, retries.failed(stack), clock.now());
    record(stack, t);
    // Resources stay as applied: hooks are retried, never rolled back.
    return outcome.retry ? { requeueAfterMs: t.nextAttemptAt.getTime() - clock.now().getTime() } : undefined;
  };

  const destroyUser = async (stack: string): Promise<Step> => {
    const applied = store.getStack(stack)?.appliedSpec;
    const prot = applied?.instances.filter((i) => i.protect).map((i) => i.name) ?? [];
    const removal = FILE_MISSING_KEY;
    if (prot.length > 0) {
      const message =
        `${stackFileName(stack)} was removed, but instance(s) ${prot.join(", ")} are protected and are never destroyed; ` +
        "restore the file, or set protect: false and apply before removing it";
      record(stack, { mark: "stalled", reason: "Protected", message, stoppedFor: removal });
      return undefined;
    }
    const run = startRun(stack, "destroy", undefined);
    try {
      await runner.destroy(stack, { onEvent: run.onEvent });
      // A destroyed stack has no outputs to keep.
      store.finishRun(run.id, { state: "succeeded" });
      for (const i of store.listInstances(stack)) store.upsertInstance({ ...i, state: "destroyed", power: "stopped" });
      deps.hooks?.forgetHosts?.(store.listInstances(stack).flatMap((i) => (i.ip ? [i.ip] : [])));
      await deps.hooks?.destroyed?.(stack);
      record(stack, { mark: "removed", how: "Destroyed" });
      if (applied && routesOf(applied).length > 0) deps.onRoutesChanged();
      return undefined;
    } catch (err) {
      return fail(stack, run.id, err, removal);
    }
  };

  const upPlatform = async (): Promise<Step> => {
    const platform = index.platform().spec;
    const hash = index.platformHash();
    if (!platform || hash === undefined) return undefined;
    const target: StackTarget = { kind: "platform", name: PLATFORM_STACK, platform, users: index.routedUsers() };
    const run = startRun(PLATFORM_STACK, "up", hash);
    try {
      await runner.preview(target, { onEvent: run.onEvent });
      const result = await runner.up(target, { onEvent: run.onEvent });
      const outputs = parseRunOutputs(PlatformStackOutputsSchema, result.outputs, `${PLATFORM_STACK}: run ${run.id}`);
      store.finishRun(run.id, { state: "succeeded", outputs });
      store.markApplied(PLATFORM_STACK, hash, { platform, routes: target.users.map((u) => [u.name, routesOf(u)]) });
      return undefined;
    } catch (err) {
      return fail(PLATFORM_STACK, run.id, err, hash);
    }
  };

  /** Carries out a decision's action; its transition is already recorded. */
  const act = (stack: string, d: Decision): Promise<Step> | Step => {
    switch (d.action) {
      case "wait":
        return { requeueAfterMs: Math.max(1, (d.until?.getTime() ?? 0) - clock.now().getTime()) };
      case "noop":
        return undefined;
      case "destroy":
        return destroyUser(stack);
      case "up":
        return stack === PLATFORM_STACK ? upPlatform() : upUser(stack);
    }
  };

  const refreshRequested = new Set<string>();

  /** Refreshes an applied stack; on drift marks it so decide() applies the same spec again. */
  const refresh = async (stack: string): Promise<void> => {
    const platform = index.platform().spec;
    if (!platform || store.getStack(stack)?.reason !== "Applied") return;
    const spec = stack === PLATFORM_STACK ? undefined : index.get(stack)?.valid?.spec;
    if (stack !== PLATFORM_STACK && !spec) return;
    const target: StackTarget = spec
      ? { kind: "user", name: stack, spec, platform }
      : { kind: "platform", name: PLATFORM_STACK, platform, users: index.routedUsers() };
    try {
      const { steps } = await runner.refresh(target);
      const drifted = steps.filter((s) => s.op !== "same");
      if (drifted.length === 0) return;
      const what = drifted.map((s) => `${s.name} (${s.op}${s.diffs?.length ? `: ${s.diffs.join(", ")}` : ""})`).join("; ");
      deps.log.warn({ stack, drifted: what }, "drift detected; applying the stack file again");
      store.markDrifted(stack, `refresh found ${drifted.length} resource(s) differing from the last apply: ${what}`);
    } catch (err) {
      // A failed refresh changes nothing; the next scheduled one tries again.
      deps.log.warn({ stack, err: chainMessage(err) }, "refresh failed");
    }
  };

  return {
    decision,
    destroy: (stack) => destroyUser(stack),
    requestRefresh: (stack) => void refreshRequested.add(stack),
    async reconcile(stack) {
      if (refreshRequested.delete(stack)) await refresh(stack);
      const d = decision(stack);
      deps.log.debug({ stack, decision: d }, "decided");
      if (d.transition) record(stack, d.transition);
      return act(stack, d);
    },
  };
}
