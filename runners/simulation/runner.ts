// The simulation runner: runs the real programs under Pulumi's mock runtime and applies their resources to the simulators' APIs.
import path from "node:path";
import { mkdirSync } from "node:fs";
import { chainMessage, ProxstackError } from "../../lib/errors.js";
import type { Clock } from "../../lib/clock.js";
import type { Logger } from "../../lib/logger.js";
import { createCloudflareClient } from "../../clients/cloudflare/client.js";
import { createProxmoxClient } from "../../clients/proxmox/client.js";
import { mockRun } from "./mock-run.js";
import type { ApplyResult, PlanStep, PreviewResult, RunEvent, RunOptions, StackRunner, StackTarget, StepOp } from "../runner.js";
import { programFor, type ProgramSettings } from "../program.js";
import { urnName } from "../../programs/naming.js";
import { createKeyedGate } from "../../lib/serial-gate.js";
import type { SimCloudflare, SimProxmox } from "./apis.js";
import { simCloudflareFromClient, simProxmoxFromClient } from "./clients.js";
import { applyDnsRecord, applyTunnelConfig, deleteDnsRecord, deleteTunnelConfig, dnsRecordDrift, findDnsRecord, tunnelConfigDrift } from "./cloudflare.js";
import { countOps, desiredResources, planSteps, refuseProtected, TYPES, type SimStep } from "./plan.js";
import {
  applyFirewallOptions,
  applyFirewallRules,
  containerDrift,
  createContainer,
  deleteContainer,
  deleteFirewallOptions,
  deleteFirewallRules,
  firewallOptionsDrift,
  firewallRulesDrift,
  firewallTarget,
  parseContainer,
} from "./proxmox.js";
import { openSimulationState, type Intent, type RecordedResource, type SimulationState } from "./state.js";

export interface SimulationRunnerDeps {
  /** The state database lives at `<dataDir>/simulation-runner.db`. */
  dataDir: string;
  proxmox: SimProxmox;
  cloudflare: SimCloudflare;
  /** Provider settings handed to the programs (the simulators' URLs), provisioning key, VPN peers. */
  program: ProgramSettings;
  logger: Logger;
  clock: Clock;
}

export type SimulationRunner = StackRunner & { close(): void };

const CHANGED: ReadonlySet<StepOp> = new Set(["create", "update", "replace"]);

/**
 * A StackRunner for installations without Proxmox: the same programs, evaluated under the mock runtime
 * (process-wide, so programs run one at a time and the runtime is released before any API call),
 * applied step by step with a write-ahead intent per step so a crash never duplicates a container.
 */
export function createSimulationRunner(deps: SimulationRunnerDeps): SimulationRunner {
  mkdirSync(deps.dataDir, { recursive: true });
  const state = openSimulationState(path.join(deps.dataDir, "simulation-runner.db"));
  const gate = createKeyedGate();
  const { proxmox: pve, cloudflare: cf } = deps;
  const now = (): string => deps.clock.now().toISOString();

  async function evaluate(target: StackTarget) {
    // mockRun queues programs process-wide and disconnects the runtime before resolving.
    const run = await mockRun(programFor(target, deps.program), { stack: target.name });
    return { desired: desiredResources(run.registrations), outputs: run.outputs };
  }

  /**
   * The program's evaluation in the last preview of each target object. The engine previews a target, checks the
   * plan, then calls `up` with that same object: up applies what was previewed and checked instead of evaluating the
   * program a second time (same target, same result; the steps are still planned against the state at up time).
   * Taken once; any other target (a new object) is evaluated afresh.
   */
  const previewed = new WeakMap<StackTarget, Awaited<ReturnType<typeof evaluate>>>();

  function emit(opts: RunOptions | undefined, e: Omit<RunEvent, "at">): void {
    opts?.onEvent?.({ at: now(), ...e });
  }

  async function applyStep(stack: string, step: SimStep, deleting: ReadonlySet<number>): Promise<void> {
    const inputs = step.op === "delete" ? (step.recorded?.inputs ?? {}) : (step.desired?.inputs ?? {});
    const intentId = state.begin({ stack, urn: step.urn, type: step.type, op: step.op, inputs, startedAt: now() });
    const externalId = await act(step, deleting);
    if (step.op === "delete") {
      state.commit(intentId, { remove: { stack, urn: step.urn } });
    } else if (step.desired) {
      const d = step.desired;
      state.commit(intentId, {
        put: { stack, urn: d.urn, type: d.type, name: d.name, seq: d.seq, inputs: d.inputs, protect: d.protect, dirty: false, externalId },
      });
    }
  }

  /** The API calls of one step; returns the external id where the API assigns one. */
  async function act(step: SimStep, deleting: ReadonlySet<number>): Promise<string | undefined> {
    const next = step.desired?.inputs;
    const old = step.recorded?.inputs;
    switch (step.type) {
      case TYPES.container:
        if (step.op === "delete" || step.op === "replace") await deleteContainer(pve, parseContainer(old));
        if (step.op !== "delete") await createContainer(pve, parseContainer(next), { recorded: step.op === "update" });
        return undefined;
      case TYPES.firewallOptions:
        if (step.op === "delete") {
          if (!deleting.has(firewallTarget(old).vmid)) await deleteFirewallOptions(pve, old);
        } else await applyFirewallOptions(pve, next);
        return undefined;
      case TYPES.firewallRules:
        if (step.op === "delete") {
          if (!deleting.has(firewallTarget(old).vmid)) await deleteFirewallRules(pve, old);
        } else await applyFirewallRules(pve, next);
        return undefined;
      case TYPES.tunnelConfig:
        if (step.op === "delete") await deleteTunnelConfig(cf, old);
        else await applyTunnelConfig(cf, next);
        return undefined;
      case TYPES.dnsRecord:
        if (step.op === "delete" || step.op === "replace") await deleteDnsRecord(cf, old, step.recorded?.externalId);
        if (step.op === "delete") return undefined;
        return applyDnsRecord(cf, next, step.op === "replace" ? undefined : step.recorded?.externalId);
      default:
        throw new ProxstackError("simulation.unsupported-type", `the simulation cannot apply ${step.type}`, { kind: "stall" });
    }
  }

  /** Applies steps in order; the first failure stops the run (later steps untouched, intents kept). */
  async function applySteps(stack: string, steps: SimStep[], opts: RunOptions | undefined, log: Logger): Promise<string[]> {
    const deleting = new Set(steps.filter((s) => s.type === TYPES.container && s.op === "delete").map((s) => parseContainer(s.recorded?.inputs).vmId));
    const changed: string[] = [];
    emit(opts, { type: "prelude", severity: "info", message: "simulation: Proxmox VE and Cloudflare are simulated" });
    try {
      for (const step of steps) {
        if (opts?.signal?.aborted) {
          emit(opts, { type: "cancel" });
          throw new ProxstackError("simulation.cancelled", `${stack}: run cancelled before ${step.name}`, { kind: "retry" });
        }
        emit(opts, { type: "resource-pre", urn: step.urn, resourceType: step.type, op: step.op });
        if (step.op !== "same") {
          try {
            await applyStep(stack, step, deleting);
          } catch (err) {
            emit(opts, { type: "resource-failed", urn: step.urn, resourceType: step.type, op: step.op, severity: "error", message: chainMessage(err) });
            throw wrap(err, `${step.op} ${step.name}`);
          }
          if (CHANGED.has(step.op)) changed.push(step.urn);
          log.debug({ urn: step.urn, op: step.op, diffs: step.diffs }, "simulation step applied");
        }
        emit(opts, { type: "resource-outputs", urn: step.urn, resourceType: step.type, op: step.op });
      }
    } finally {
      emit(opts, { type: "summary", severity: "info", message: summaryOf(steps) });
    }
    return changed;
  }

  /** Resolves intents left by an interrupted run: what exists is adopted (dirty), what does not is forgotten. */
  async function settle(stack: string | undefined): Promise<{ stack: string; cleared: string }[]> {
    const out: { stack: string; cleared: string }[] = [];
    for (const intent of state.intents(stack)) {
      const found = await exists(intent);
      const prev = state.resources(intent.stack).find((r) => r.urn === intent.urn);
      if (found.exists) {
        const inputs = intent.op === "delete" && prev ? prev.inputs : intent.inputs;
        const row: RecordedResource = {
          stack: intent.stack,
          urn: intent.urn,
          type: intent.type,
          name: prev?.name ?? urnName(intent.urn),
          seq: prev?.seq ?? 0,
          inputs,
          protect: prev?.protect ?? false,
          dirty: true,
          externalId: found.externalId ?? prev?.externalId,
        };
        state.commit(intent.id, { put: row });
        out.push({ stack: intent.stack, cleared: `interrupted ${intent.op} of ${row.name}: the object exists, adopted; the next run completes it` });
      } else {
        state.commit(intent.id, prev ? { remove: { stack: intent.stack, urn: intent.urn } } : undefined);
        out.push({
          stack: intent.stack,
          cleared: `interrupted ${intent.op} of ${urnName(intent.urn)}: nothing exists, forgotten; the next run ${intent.op === "delete" ? "has nothing to delete" : "creates it"}`,
        });
      }
    }
    return out;
  }

  async function exists(intent: Intent): Promise<{ exists: boolean; externalId?: string }> {
    switch (intent.type) {
      case TYPES.container: {
        const c = parseContainer(intent.inputs);
        return { exists: (await pve.getContainer(c.nodeName, c.vmId)) !== undefined };
      }
      case TYPES.firewallOptions:
      case TYPES.firewallRules: {
        const t = firewallTarget(intent.inputs);
        return { exists: (await pve.getContainer(t.node, t.vmid)) !== undefined };
      }
      case TYPES.dnsRecord: {
        const id = await findDnsRecord(cf, intent.inputs);
        return id === undefined ? { exists: false } : { exists: true, externalId: id };
      }
      default:
        return { exists: true };
    }
  }

  async function drift(r: RecordedResource): Promise<"missing" | string[]> {
    switch (r.type) {
      case TYPES.container:
        return containerDrift(pve, parseContainer(r.inputs));
      case TYPES.firewallOptions:
        return firewallOptionsDrift(pve, r.inputs);
      case TYPES.firewallRules:
        return firewallRulesDrift(pve, r.inputs);
      case TYPES.tunnelConfig:
        return tunnelConfigDrift(cf, r.inputs);
      case TYPES.dnsRecord:
        return dnsRecordDrift(cf, r.inputs, r.externalId);
      default:
        return [];
    }
  }

  async function previewOf(target: StackTarget, opts: RunOptions | undefined): Promise<PreviewResult> {
    const evaluation = await evaluate(target);
    previewed.set(target, evaluation);
    const { desired } = evaluation;
    const steps = planSteps(desired, state.resources(target.name));
    for (const s of steps) emit(opts, { type: "resource-pre", urn: s.urn, resourceType: s.type, op: s.op });
    emit(opts, { type: "summary", severity: "info", message: summaryOf(steps) });
    return { steps: steps.map(toPlanStep), changeSummary: countOps(steps) };
  }

  const withStack = <T>(stack: string, what: string, fn: (log: Logger) => Promise<T>): Promise<T> =>
    gate(stack, async () => {
      const log = deps.logger.child({ stack, op: what, runner: "simulation" });
      try {
        return await fn(log);
      } catch (err) {
        const e = wrap(err, `${what} ${stack}`);
        log.warn({ code: e.code, kind: e.kind, err: e.message }, "simulation run failed");
        throw e;
      }
    });

  return {
    mode: "simulation",

    preview: (target, opts) => withStack(target.name, "preview", () => previewOf(target, opts)),

    up: (target, opts) =>
      withStack(target.name, "up", async (log): Promise<ApplyResult> => {
        await settle(target.name);
        const kept = previewed.get(target);
        previewed.delete(target);
        const { desired, outputs } = kept ?? (await evaluate(target));
        const steps = planSteps(desired, state.resources(target.name));
        refuseProtected(target.name, steps);
        const changed = await applySteps(target.name, steps, opts, log);
        log.info({ changeSummary: countOps(steps) }, "simulation: stack applied");
        return { outputs, changeSummary: countOps(steps), changed };
      }),

    destroy: (stack, opts) =>
      withStack(stack, "destroy", async (log): Promise<ApplyResult> => {
        await settle(stack);
        const steps = planSteps([], state.resources(stack));
        refuseProtected(stack, steps);
        await applySteps(stack, steps, opts, log);
        return { outputs: {}, changeSummary: countOps(steps), changed: [] };
      }),

    refresh: (target, opts) =>
      withStack(target.name, "refresh", async () => {
        await settle(target.name);
        for (const r of state.resources(target.name)) {
          const d = await drift(r);
          if (d === "missing") state.remove(r.stack, r.urn);
          else if (d.length > 0) state.markDirty(r.stack, r.urn);
          if (d === "missing" || d.length > 0) {
            emit(opts, {
              type: "diagnostic",
              severity: "warning",
              urn: r.urn,
              message: d === "missing" ? `${r.name} is gone` : `${r.name} drifted: ${d.join(", ")}`,
            });
          }
        }
        return previewOf(target, opts);
      }),

    async recover() {
      const cleared: { stack: string; cleared: string }[] = [];
      for (const stack of new Set(state.intents().map((i) => i.stack))) {
        cleared.push(...(await gate(stack, () => settle(stack))));
      }
      for (const c of cleared) deps.logger.warn({ ...c, runner: "simulation" }, "interrupted simulation run resolved");
      return cleared;
    },

    close: () => state.close(),
  };
}

function toPlanStep(s: SimStep): PlanStep {
  const inputs = s.desired?.inputs ?? s.recorded?.inputs ?? {};
  return { urn: s.urn, type: s.type, name: s.name, op: s.op, inputs, ...(s.recorded ? { diffs: s.diffs } : {}) };
}

function summaryOf(steps: readonly SimStep[]): string {
  const parts = Object.entries(countOps(steps))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${op} ${n}`);
  return parts.length > 0 ? parts.join(", ") : "no changes";
}

function wrap(err: unknown, what: string): ProxstackError {
  if (err instanceof ProxstackError) {
    if (err.message.startsWith(what)) return err;
    return new ProxstackError(err.code, `${what}: ${err.message}`, { kind: err.kind, cause: err.cause ?? err, ...(err.fields ? { fields: err.fields } : {}) });
  }
  return new ProxstackError("simulation.api-failed", `${what}: ${chainMessage(err)}`, { kind: "retry", cause: err });
}

/** Where the simulators listen (`proxstack sim` prints the same shape). */
export interface SimulatorEndpoints {
  pve: { url: string; token: string };
  cloudflare: { url: string; token: string };
}

/**
 * The runner `proxstack serve` uses when no Proxmox is configured: API clients on the simulators,
 * and the programs' providers pointed at them (the mock runtime never calls them).
 */
export function createSimulationRunnerForSimulators(s: {
  dataDir: string;
  simulators: SimulatorEndpoints;
  provisioningPublicKey: string;
  vpnPeerAddresses?: ProgramSettings["vpnPeerAddresses"];
  /** How often Proxmox tasks are polled; the simulators finish them fast. @default the client's */
  taskPollMs?: number;
  logger: Logger;
  clock: Clock;
}): SimulationRunner {
  const pve = createProxmoxClient({ endpoint: s.simulators.pve.url, token: s.simulators.pve.token, ...(s.taskPollMs ? { taskPollMs: s.taskPollMs } : {}) });
  const cf = createCloudflareClient({ apiUrl: s.simulators.cloudflare.url, token: s.simulators.cloudflare.token });
  return createSimulationRunner({
    dataDir: s.dataDir,
    proxmox: simProxmoxFromClient(pve),
    cloudflare: simCloudflareFromClient(cf),
    program: {
      proxmox: { endpoint: s.simulators.pve.url, apiToken: s.simulators.pve.token, insecure: false },
      cloudflare: { apiToken: s.simulators.cloudflare.token, baseUrl: s.simulators.cloudflare.url },
      provisioningPublicKey: s.provisioningPublicKey,
      ...(s.vpnPeerAddresses ? { vpnPeerAddresses: s.vpnPeerAddresses } : {}),
    },
    logger: s.logger,
    clock: s.clock,
  });
}
