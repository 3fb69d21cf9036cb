// The narrow interface the reconciler applies stacks through: Pulumi (Automation API) or simulation.
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";

/** What one run applies: a user's stack, or the platform stack aggregating every user's routes. */
export type StackTarget =
  | { kind: "user"; name: string; spec: UserStackSpec; platform: PlatformSpec }
  | { kind: "platform"; name: "platform"; platform: PlatformSpec; users: UserStackSpec[] };

/** Pulumi's step operations, as the engine records them. */
export type StepOp = "create" | "update" | "delete" | "replace" | "same" | "read" | "refresh" | "create-replacement" | "delete-replaced";

/** One resource in a plan: what would happen to it, with the inputs a reviewer cares about. */
export interface PlanStep {
  urn: string;
  type: string;
  name: string;
  op: StepOp;
  /** Key inputs after the change (vmId, ip, cores, memory, started, ingress …); secrets elided. */
  inputs: Record<string, unknown>;
  /** Input keys that differ from the last apply, when known. */
  diffs?: string[];
}

/** An engine event, the same shape for both runners; stored on the run and streamed to the portal. */
export interface RunEvent {
  /** ISO time. */
  at: string;
  type: "prelude" | "resource-pre" | "resource-outputs" | "resource-failed" | "diagnostic" | "summary" | "cancel";
  urn?: string;
  resourceType?: string;
  op?: StepOp;
  severity?: "debug" | "info" | "warning" | "error";
  message?: string;
}

export interface RunOptions {
  onEvent?: (e: RunEvent) => void;
  signal?: AbortSignal;
}

export interface PreviewResult {
  steps: PlanStep[];
  /** Count of steps per op, as Pulumi's changeSummary. */
  changeSummary: Partial<Record<StepOp, number>>;
}

export interface ApplyResult {
  /** Stack outputs as returned by the program; parse with the outputs schemas before use. */
  outputs: unknown;
  changeSummary: Partial<Record<StepOp, number>>;
  /** Logical names (urns) of resources created, updated or replaced in this run. */
  changed: string[];
}

export interface StackRunner {
  /** Shown everywhere the engine reports: "pulumi" or "simulation". */
  readonly mode: "pulumi" | "simulation";
  preview(target: StackTarget, opts?: RunOptions): Promise<PreviewResult>;
  up(target: StackTarget, opts?: RunOptions): Promise<ApplyResult>;
  /** Removes every resource of the stack (protected ones make it fail). */
  destroy(stack: string, opts?: RunOptions): Promise<ApplyResult>;
  /** Drift detection: reads actual state; returns the steps that would restore the desired state. */
  refresh(target: StackTarget, opts?: RunOptions): Promise<PreviewResult>;
  /** Start-up: detect and clear pending operations and stale locks left by a crash. */
  recover(): Promise<{ stack: string; cleared: string }[]>;
}
