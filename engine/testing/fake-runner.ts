// A TEST DOUBLE of StackRunner: in-memory "resources", every call recorded, failures and pauses on demand.
import { hostname, tunnelHostname } from "../../programs/naming.js";
import type { ApplyResult, PlanStep, PreviewResult, RunEvent, RunOptions, StackRunner, StackTarget, StepOp } from "../../runners/runner.js";
import { RESOURCE_TYPE, resourceUrn } from "../../programs/naming.js";
import type { PlatformStackOutputs, UserStackOutputs } from "../../schemas/index.js";

/** A resource the fake holds for a stack, keyed by logical name. */
interface FakeResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export interface FakeCall {
  method: "preview" | "up" | "destroy" | "refresh" | "recover";
  stack: string;
}

export const FAKE_CONTAINER_TYPE = RESOURCE_TYPE.container;
export const FAKE_TUNNEL_TYPE = RESOURCE_TYPE.tunnelConfig;

export interface FakeRunner extends StackRunner {
  readonly calls: FakeCall[];
  /** Resources per stack, as a real backend would hold them. */
  resources(stack: string): FakeResource[];
  /** Makes the next `n` calls of `method` (any stack unless given) fail with `error`. */
  failNext(method: FakeCall["method"], n: number, error: () => Error, stack?: string): void;
  /** Fails each up/destroy with this probability (0..1), using the given random source. */
  setFaultRate(rate: number, error: () => Error, random?: () => number): void;
  /** Holds every up until `release()` is called (to observe in-flight behaviour). */
  hold(): { release(): void };
  /** Plans this op for the named container on the next preview (e.g. "replace"), to test the guard. */
  forceOp(stack: string, containerName: string, op: StepOp): void;
  /** Number of up calls that started at the same time as another up of the same stack (must stay 0). */
  readonly overlaps: number;
  /** Number of runs in flight right now. */
  readonly inFlight: number;
}

/** The tunnel routes of a platform target, sorted by hostname as the platform program sorts them. */
function routesOf(target: StackTarget & { kind: "platform" }): PlatformStackOutputs["routes"] {
  return target.users
    .flatMap((u) =>
      u.instances.flatMap((i) =>
        i.domains.map((d) => ({
          hostname: tunnelHostname(u.name, i.name, d.subdomain, target.platform.baseDomain),
          service: `http://${i.ip ?? "?"}:${d.port}`,
          user: u.name,
          instance: i.name,
        })),
      ),
    )
    .sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
}

/** Outputs as the programs return them, so the engine parses them with the same schemas as a real run's. */
function outputsOf(target: StackTarget): UserStackOutputs | PlatformStackOutputs {
  if (target.kind === "platform") {
    const routes = routesOf(target);
    return { hostnames: routes.map((r) => r.hostname), routes } satisfies PlatformStackOutputs;
  }
  const s = target.spec;
  return {
    stack: s.name,
    suspended: s.suspension !== undefined,
    instances: s.instances.map((i) => {
      // The engine allocates before every run; a missing value here is a bug in the engine.
      if (i.vmid === undefined || i.ip === undefined) throw new Error(`fake runner: ${s.name}/${i.name} reached up without vmid and ip`);
      return { name: i.name, vmid: i.vmid, ip: i.ip, hostname: hostname(s.name, i.name), power: s.suspension ? "stopped" : i.power };
    }),
  } satisfies UserStackOutputs;
}

function desiredResources(target: StackTarget): FakeResource[] {
  if (target.kind === "platform") {
    const ingress = routesOf(target).map((r) => ({ hostname: r.hostname, service: r.service }));
    return [{ type: FAKE_TUNNEL_TYPE, name: "tunnel-config", inputs: { ingress } }];
  }
  const s = target.spec;
  return s.instances.map((i) => ({
    type: FAKE_CONTAINER_TYPE,
    name: `${s.name}/${i.name}/container`,
    inputs: { vmId: i.vmid, ip: i.ip, template: i.template, plan: i.plan, started: i.power === "running" && !s.suspension, protect: i.protect },
  }));
}

const same = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Creates the test double. `delayMs` makes every up/destroy take that long (real timers). */
export function createFakeRunner(opts: { mode?: "pulumi" | "simulation"; delayMs?: number; now?: () => Date } = {}): FakeRunner {
  const state = new Map<string, Map<string, FakeResource>>();
  const calls: FakeCall[] = [];
  const planned = new Map<string, Map<string, StepOp>>();
  const failQueue: { method: FakeCall["method"]; n: number; error: () => Error; stack?: string }[] = [];
  let fault: { rate: number; error: () => Error; random: () => number } | undefined;
  let gate: Promise<void> | undefined;
  const active = new Map<string, number>();
  let overlaps = 0;
  let inFlight = 0;
  const now = opts.now ?? (() => new Date());

  const maybeFail = (method: FakeCall["method"], stack: string): void => {
    const f = failQueue.find((x) => x.method === method && x.n > 0 && (x.stack === undefined || x.stack === stack));
    if (f) {
      f.n--;
      throw f.error();
    }
    if (fault && (method === "up" || method === "destroy") && fault.random() < fault.rate) throw fault.error();
  };

  const plan = (target: StackTarget): PlanStep[] => {
    const cur = state.get(target.name) ?? new Map<string, FakeResource>();
    const want = desiredResources(target);
    const forced = planned.get(target.name);
    const steps: PlanStep[] = [];
    for (const r of want) {
      const old = cur.get(r.name);
      const op: StepOp =
        forced?.get(r.name) ?? (!old ? "create" : same(old.inputs, r.inputs) ? "same" : old.inputs.vmId !== r.inputs.vmId ? "replace" : "update");
      const diffs = old ? Object.keys(r.inputs).filter((k) => JSON.stringify(old.inputs[k]) !== JSON.stringify(r.inputs[k])) : undefined;
      steps.push({ urn: resourceUrn(target.name, r.type, r.name), type: r.type, name: r.name, op, inputs: r.inputs, ...(diffs ? { diffs } : {}) });
    }
    for (const old of cur.values()) {
      if (!want.some((w) => w.name === old.name)) {
        steps.push({ urn: resourceUrn(target.name, old.type, old.name), type: old.type, name: old.name, op: "delete", inputs: old.inputs });
      }
    }
    return steps;
  };

  const summary = (steps: PlanStep[]): Partial<Record<StepOp, number>> => {
    const s: Partial<Record<StepOp, number>> = {};
    for (const st of steps) s[st.op] = (s[st.op] ?? 0) + 1;
    return s;
  };

  const emit = (o: RunOptions | undefined, e: Omit<RunEvent, "at">): void => o?.onEvent?.({ at: now().toISOString(), ...e });

  const pause = async (): Promise<void> => {
    if (gate) await gate;
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
  };

  const track = async <T>(stack: string, fn: () => Promise<T>): Promise<T> => {
    if ((active.get(stack) ?? 0) > 0) overlaps++;
    active.set(stack, (active.get(stack) ?? 0) + 1);
    inFlight++;
    try {
      return await fn();
    } finally {
      inFlight--;
      active.set(stack, (active.get(stack) ?? 1) - 1);
    }
  };

  const runner: FakeRunner = {
    mode: opts.mode ?? "simulation",
    calls,
    get overlaps() {
      return overlaps;
    },
    get inFlight() {
      return inFlight;
    },
    resources: (stack) => [...(state.get(stack)?.values() ?? [])],
    failNext(method, n, error, stack) {
      failQueue.push({ method, n, error, ...(stack !== undefined ? { stack } : {}) });
    },
    setFaultRate(rate, error, random = Math.random) {
      fault = rate > 0 ? { rate, error, random } : undefined;
    },
    hold() {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return {
        release: () => {
          gate = undefined;
          release();
        },
      };
    },
    forceOp(stack, containerName, op) {
      const m = planned.get(stack) ?? new Map<string, StepOp>();
      m.set(containerName, op);
      planned.set(stack, m);
    },
    preview(target, o) {
      calls.push({ method: "preview", stack: target.name });
      maybeFail("preview", target.name);
      const steps = plan(target);
      emit(o, { type: "prelude", message: `preview ${target.name}` });
      return Promise.resolve({ steps, changeSummary: summary(steps) });
    },
    up(target, o) {
      calls.push({ method: "up", stack: target.name });
      return track(target.name, async () => {
        await pause();
        maybeFail("up", target.name);
        const steps = plan(target);
        planned.delete(target.name);
        const next = new Map<string, FakeResource>();
        for (const r of desiredResources(target)) next.set(r.name, r);
        state.set(target.name, next);
        for (const s of steps) if (s.op !== "same") emit(o, { type: "resource-outputs", urn: s.urn, resourceType: s.type, op: s.op });
        emit(o, { type: "summary", message: "update succeeded" });
        const outputs = outputsOf(target);
        return {
          outputs,
          changeSummary: summary(steps),
          changed: steps.filter((s) => s.op !== "same" && s.op !== "delete").map((s) => s.urn),
        } satisfies ApplyResult;
      });
    },
    destroy(stack, o) {
      calls.push({ method: "destroy", stack });
      return track(stack, async () => {
        await pause();
        maybeFail("destroy", stack);
        const cur = [...(state.get(stack)?.values() ?? [])];
        const prot = cur.find((r) => r.inputs.protect === true);
        if (prot) throw new Error(`resource ${prot.name} is protected`);
        state.delete(stack);
        for (const r of cur) emit(o, { type: "resource-outputs", resourceType: r.type, op: "delete", urn: r.name });
        return { outputs: {}, changeSummary: { delete: cur.length }, changed: [] };
      });
    },
    refresh(target) {
      calls.push({ method: "refresh", stack: target.name });
      const steps = plan(target);
      return Promise.resolve({ steps, changeSummary: summary(steps) } satisfies PreviewResult);
    },
    recover() {
      calls.push({ method: "recover", stack: "" });
      return Promise.resolve([]);
    },
  };
  return runner;
}
