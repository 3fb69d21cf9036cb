// Translates Pulumi engine events into the runner's RunEvent and PlanStep shapes, with secrets kept out.
import type { PlanStep, RunEvent, StepOp } from "../runner.js";
import { RESOURCE_TYPE, urnName } from "../../programs/naming.js";
import type { Redactor } from "./errors.js";
import type { EngineEvent, OpMap } from "./workspace.js";

const STEP_OPS: ReadonlySet<string> = new Set<StepOp>([
  "create",
  "update",
  "delete",
  "replace",
  "same",
  "read",
  "refresh",
  "create-replacement",
  "delete-replaced",
]);

/** Pulumi's op, narrowed to the engine's vocabulary; ops it does not record (discard, import …) become undefined. */
export function stepOp(op: string): StepOp | undefined {
  return STEP_OPS.has(op) ? (op as StepOp) : undefined;
}

/** Input keys never copied into a plan or an event, even when Pulumi did not mark them secret. */
const SECRET_KEY = /token|password|passphrase|secret|privatekey/i;

/**
 * One engine event as a RunEvent, or undefined for events the engine does not store (stdout chunks,
 * debugger). The prelude's config and step inputs are never copied: they may hold decrypted values.
 */
export function translateEvent(e: EngineEvent, redact: Redactor): RunEvent | undefined {
  const at = new Date(e.timestamp * 1000).toISOString();
  if (e.preludeEvent) return { at, type: "prelude" };
  if (e.cancelEvent) return { at, type: "cancel" };
  if (e.resourcePreEvent)
    return withOp(
      { at, type: "resource-pre", urn: e.resourcePreEvent.metadata.urn, resourceType: e.resourcePreEvent.metadata.type },
      e.resourcePreEvent.metadata.op,
    );
  if (e.resOutputsEvent)
    return withOp(
      { at, type: "resource-outputs", urn: e.resOutputsEvent.metadata.urn, resourceType: e.resOutputsEvent.metadata.type },
      e.resOutputsEvent.metadata.op,
    );
  if (e.resOpFailedEvent) {
    const m = e.resOpFailedEvent.metadata;
    return withOp({ at, type: "resource-failed", urn: m.urn, resourceType: m.type, severity: "error", message: `${m.op} failed` }, m.op);
  }
  if (e.diagnosticEvent) {
    const d = e.diagnosticEvent;
    const severity = d.severity === "error" ? "error" : d.severity === "warning" ? "warning" : "info";
    return { at, type: "diagnostic", severity, message: redact(d.message.trim()), ...(d.urn ? { urn: d.urn } : {}) };
  }
  if (e.policyEvent) {
    const p = e.policyEvent;
    return {
      at,
      type: "diagnostic",
      severity: p.enforcementLevel === "mandatory" ? "error" : "warning",
      message: redact(`policy ${p.policyName}: ${p.message}`),
      ...(p.resourceUrn ? { urn: p.resourceUrn } : {}),
    };
  }
  if (e.summaryEvent)
    return { at, type: "summary", severity: e.summaryEvent.maybeCorrupt ? "warning" : "info", message: summaryText(e.summaryEvent.resourceChanges) };
  return undefined;
}

function withOp(ev: RunEvent, op: string): RunEvent {
  const o = stepOp(op);
  return o ? { ...ev, op: o } : ev;
}

/** `create 1, same 3`; ops in a fixed order so texts compare. */
export function summaryText(changes: OpMap): string {
  const parts = Object.entries(changes)
    .filter(([, n]) => (n ?? 0) > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${op} ${n}`);
  return parts.length > 0 ? parts.join(", ") : "no changes";
}

/** The plan step a resource-pre event announces; undefined for the root stack resource. */
export function planStepOf(e: EngineEvent, redact: Redactor): PlanStep | undefined {
  const m = e.resourcePreEvent?.metadata;
  if (!m || m.type === RESOURCE_TYPE.stack) return undefined;
  const op = stepOp(m.op);
  if (!op) return undefined;
  const inputs = sanitise(m.new?.inputs ?? m.old?.inputs ?? {}, redact) as Record<string, unknown>;
  return { urn: m.urn, type: m.type, name: urnName(m.urn), op, inputs, ...(m.diffs ? { diffs: [...m.diffs] } : {}) };
}

/** A copy without secret-looking keys, with known secret values replaced. */
export function sanitise(value: unknown, redact: Redactor): unknown {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map((v) => sanitise(v, redact));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => !SECRET_KEY.test(k))
        .map(([k, v]) => [k, sanitise(v, redact)]),
    );
  }
  return value;
}

/** Pulumi's OpMap narrowed to the engine's ops. */
export function changeSummaryOf(changes: OpMap): Partial<Record<StepOp, number>> {
  const out: Partial<Record<StepOp, number>> = {};
  for (const [op, n] of Object.entries(changes)) {
    const o = stepOp(op);
    if (o && n !== undefined) out[o] = n;
  }
  return out;
}
