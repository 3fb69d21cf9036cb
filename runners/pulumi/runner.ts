// The Pulumi runner: applies stacks through the Automation API (inline programs, file backend, passphrase secrets).
import os from "node:os";
import { ProxstackError } from "../../lib/errors.js";
import type { Logger } from "../../lib/logger.js";
import { PROJECT_NAME } from "../../programs/naming.js";
import type { ApplyResult, PlanStep, PreviewResult, RunOptions, StackRunner, StackTarget } from "../runner.js";
import type { PlatformSpec } from "../../schemas/index.js";
import { createRedactor, mapPulumiError, type Redactor } from "./errors.js";
import { changeSummaryOf, planStepOf, sanitise, translateEvent } from "./events.js";
import { ensurePassphrase } from "./passphrase.js";
import { emptyProgram, programFor, type ProgramSettings } from "../program.js";
import { fileBackendDir, preparePulumiProject } from "./project.js";
import { listDiyLocks, readDiyCheckpoints, systemProcessTable, type DiyLock, type ProcessTable } from "./recover.js";
import { createKeyedGate, createSerialGate } from "../../lib/serial-gate.js";
import {
  createAutomationWorkspace,
  type EngineEvent,
  type OutputMap,
  type PulumiOpOptions,
  type PulumiProgram,
  type PulumiStackApi,
  type PulumiWorkspaceApi,
} from "./workspace.js";

export interface PulumiRunnerDeps {
  workspace: PulumiWorkspaceApi;
  /** The inline program of a target (see pulumi-program.ts). */
  programFor: (target: StackTarget) => PulumiProgram;
  /** The backend URL; for `file://` backends recover() reads locks and checkpoints from disk. */
  backendUrl: string;
  /** Plaintext values that must never appear in anything recorded (tokens, passphrase). */
  secrets: readonly (string | undefined)[];
  logger: Logger;
  /** Decides whether a lock's owner is alive. @default this host's process table */
  processes?: ProcessTable;
  /** @default "proxstack" */
  project?: string;
}

const CHANGED_OPS = new Set(["create", "update", "replace", "create-replacement"]);

/**
 * One Pulumi operation at a time in this process, across every runner. An inline program runs in
 * this process, and for each run the SDK's language server (`automation/server.js`) adds
 * process-wide `uncaughtException`/`unhandledRejection` handlers: while two runs overlap, one stray
 * rejection is recorded by both and fails both. Serialising the operations bounds a stray error to
 * the run it happened in. (Different stacks still queue in the engine; they apply one after another.)
 */
const processGate = createSerialGate();

/** The runner over any PulumiWorkspaceApi: the real Automation API adapter, or a fake in tests. */
export function createPulumiRunner(deps: PulumiRunnerDeps): StackRunner {
  const redact = createRedactor(deps.secrets);
  const project = deps.project ?? PROJECT_NAME;
  const processes = deps.processes ?? systemProcessTable(() => os.hostname());
  // `stack select` rewrites the workspace's current-stack file: one at a time in this process.
  const selectGate = createSerialGate();
  // One operation per stack at a time, whatever the caller does.
  const stackGate = createKeyedGate();

  const open = (name: string, program: PulumiProgram): Promise<PulumiStackApi> => selectGate(() => deps.workspace.createOrSelectStack(name, program));

  async function operate<T>(stack: string, what: string, fn: (log: Logger) => Promise<T>): Promise<T> {
    const log = deps.logger.child({ stack, op: what, runner: "pulumi" });
    const fail = (err: unknown): ProxstackError => {
      const mapped = mapPulumiError(err, `${what} ${stack}`, redact);
      log.warn({ code: mapped.code, kind: mapped.kind, err: mapped.message }, "pulumi operation failed");
      return mapped;
    };
    return stackGate(stack, () =>
      processGate(async () => {
        try {
          return await fn(log);
        } catch (err) {
          const mapped = mapPulumiError(err, `${what} ${stack}`, redact);
          // A CLI killed mid-run (by a signal, OOM, a crash) leaves its lock and pending operations;
          // heal them now, while the engine keeps running, and try once more.
          const healed = await heal(stack, mapped, log).catch((e: unknown) => {
            log.warn({ err: mapPulumiError(e, `recover ${stack}`, redact).message }, "could not clear a killed run's leftovers");
            return false;
          });
          if (!healed) throw fail(err);
          try {
            return await fn(log);
          } catch (again) {
            throw fail(again);
          }
        }
      }),
    );
  }

  /** Whether a lock was left by a process on this host that no longer exists. */
  const deadOwner = (lock: DiyLock): boolean => lock.hostname === processes.hostname() && lock.pid > 0 && !processes.isAlive(lock.pid);

  /**
   * Clears what a killed CLI left on one stack: its lock (`pulumi cancel`, only when the owner is
   * proven dead) and pending operations (`pulumi refresh --clear-pending-creates`). Nothing is
   * exported or imported, so no secret is ever decrypted to disk. Returns whether anything was cleared.
   */
  async function heal(stack: string, err: ProxstackError, log: Logger): Promise<boolean> {
    if (err.code === "pulumi.stack-locked") {
      const dir = fileBackendDir(deps.backendUrl);
      const locks = dir === undefined ? [] : listDiyLocks(dir, project).filter((l) => l.stack === stack);
      // Only this process runs operations on the stack (the gate), so a dead owner is a killed CLI of ours or an earlier engine's.
      if (locks.length === 0 || !locks.every(deadOwner)) return false;
      const s = await open(stack, emptyProgram);
      await s.cancel();
      await s.refresh({ onEvent: () => undefined, clearPendingCreates: true });
      log.warn(
        { pids: locks.map((l) => l.pid) },
        "lock of a killed Pulumi CLI removed (pulumi cancel) and pending creates cleared (refresh --clear-pending-creates)",
      );
      return true;
    }
    if (err.code === "pulumi.pending-operations") {
      const s = await open(stack, emptyProgram);
      await s.refresh({ onEvent: () => undefined, clearPendingCreates: true });
      log.warn("pending operations of an interrupted run cleared (refresh --clear-pending-creates)");
      return true;
    }
    return false;
  }

  /** Engine-event sink: forwards RunEvents, collects plan steps and the urns a run changed. */
  // The platform file's proxmox.parallel as last seen, for destroys (which get a stack name only).
  let lastParallel = 1;
  /** Pulumi's parallel for a target: the platform file's for user stacks (Proxmox locks), unbounded for the platform stack. */
  const parallelOf = (target: StackTarget | undefined): number | undefined => {
    if (target === undefined) return lastParallel;
    if (target.kind === "platform") return undefined;
    lastParallel = target.platform.proxmox.parallel;
    return lastParallel;
  };

  function collector(opts: RunOptions | undefined, parallel: number | undefined) {
    const steps: PlanStep[] = [];
    const changed: string[] = [];
    const onEvent = (e: EngineEvent): void => {
      const step = planStepOf(e, redact);
      if (step) {
        steps.push(step);
        if (CHANGED_OPS.has(step.op)) changed.push(step.urn);
      }
      const ev = translateEvent(e, redact);
      if (ev) opts?.onEvent?.(ev);
    };
    const op: PulumiOpOptions = { onEvent, ...(opts?.signal ? { signal: opts.signal } : {}), ...(parallel !== undefined ? { parallel } : {}) };
    return { steps, changed, op };
  }

  async function previewStack(stack: PulumiStackApi, target: StackTarget, opts: RunOptions | undefined): Promise<PreviewResult> {
    const c = collector(opts, parallelOf(target));
    const r = await stack.preview(c.op);
    return { steps: c.steps, changeSummary: changeSummaryOf(r.changeSummary) };
  }

  return {
    mode: "pulumi",

    preview: (target, opts) => operate(target.name, "preview", async () => previewStack(await open(target.name, deps.programFor(target)), target, opts)),

    up: (target, opts) =>
      operate(target.name, "up", async (log) => {
        const stack = await open(target.name, deps.programFor(target));
        const c = collector(opts, parallelOf(target));
        const r = await stack.up(c.op);
        const result: ApplyResult = { outputs: plainOutputs(r.outputs, redact), changeSummary: changeSummaryOf(r.resourceChanges), changed: c.changed };
        log.info({ changeSummary: result.changeSummary, changed: result.changed.length }, "stack applied");
        return result;
      }),

    destroy: (stackName, opts) =>
      operate(stackName, "destroy", async (log) => {
        const stack = await selectGate(() => deps.workspace.selectStack(stackName, emptyProgram));
        if (!stack) {
          log.info("stack absent from the backend: nothing to destroy");
          return { outputs: {}, changeSummary: {}, changed: [] };
        }
        const c = collector(opts, parallelOf(undefined));
        const r = await stack.destroy(c.op);
        return { outputs: {}, changeSummary: changeSummaryOf(r.resourceChanges), changed: [] };
      }),

    refresh: (target, opts) =>
      operate(target.name, "refresh", async () => {
        const stack = await open(target.name, deps.programFor(target));
        // Refresh adopts the real state; the preview that follows is what would restore the desired one.
        await stack.refresh(collector(opts, parallelOf(target)).op);
        return previewStack(stack, target, opts);
      }),

    recover: () => processGate(() => recover(deps, project, deadOwner, redact, open)),
  };
}

async function recover(
  deps: PulumiRunnerDeps,
  project: string,
  deadOwner: (lock: DiyLock) => boolean,
  redact: Redactor,
  open: (name: string, program: PulumiProgram) => Promise<PulumiStackApi>,
): Promise<{ stack: string; cleared: string }[]> {
  const log = deps.logger.child({ runner: "pulumi", op: "recover" });
  const cleared: { stack: string; cleared: string }[] = [];
  const dir = fileBackendDir(deps.backendUrl);
  try {
    // Fail fast at start-up: a missing or too old CLI is named here, not by every run.
    await deps.workspace.cliVersion();
    if (dir === undefined) {
      // Pending operations cannot be seen without exporting (decrypting) state: an operation that
      // reports them is healed then (refresh --clear-pending-creates), see heal().
      log.info("non-file backend: interrupted runs are cleared when an operation reports them");
      return [];
    }
    for (const lock of listDiyLocks(dir, project)) {
      if (!deadOwner(lock)) {
        log.warn(
          { stack: lock.stack, lockHost: lock.hostname, pid: lock.pid },
          "stack locked by a live process or from another host: cannot prove its owner dead, left alone",
        );
        continue;
      }
      await (await open(lock.stack, emptyProgram)).cancel();
      cleared.push({
        stack: lock.stack,
        cleared: `stale lock of dead process ${lock.pid} (${lock.username}@${lock.hostname}, ${lock.timestamp}) removed by pulumi cancel`,
      });
    }
    // Checkpoints are read as stored (secrets stay ciphertext) only to find stacks with pending operations.
    for (const cp of readDiyCheckpoints(dir, project)) {
      if (cp.pending.length === 0) continue;
      await (await open(cp.stack, emptyProgram)).refresh({ onEvent: () => undefined, clearPendingCreates: true });
      cleared.push({ stack: cp.stack, cleared: pendingText(cp.pending) });
    }
  } catch (err) {
    throw mapPulumiError(err, "recover", redact);
  }
  for (const c of cleared) log.warn(c, "crash leftovers cleared");
  return cleared;
}

function pendingText(pending: { kind: string; urn: string }[]): string {
  const list = pending.map((p) => `${p.kind} ${p.urn}`).join(", ");
  return `${pending.length} pending operation(s) cleared by pulumi refresh --clear-pending-creates (${list}); an interrupted create may have left a real resource: the next run reports a VMID or name conflict if so`;
}

/** Stack outputs as plain values; secret outputs are replaced, never returned in clear. */
function plainOutputs(outputs: OutputMap, redact: Redactor): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.secret ? "[secret]" : sanitise(v.value, redact)]));
}

/**
 * What the engine must respect when it applies through this runner to real Proxmox: parallel creates
 * and clones on one node hit Proxmox lock timeouts, so stacks on one node go one at a time unless the
 * platform file's `proxmox.perNodeLimit` says otherwise (read at start; default 1 without a platform).
 */
export function realProxmoxEngineLimits(platform: PlatformSpec | undefined): { perNodeLimit: number } {
  return { perNodeLimit: platform?.proxmox.perNodeLimit ?? 1 };
}

/** Settings of the real runner, from the parsed process config (schemas/config.ts). */
export interface AutomationRunnerSettings {
  dataDir: string;
  /** Repository root; its Pulumi.yaml is used when present. */
  repoRoot?: string;
  pulumi: { backendUrl: string; passphrase?: string; passphraseFile: string };
  proxmox: { endpoint: string; token: string; insecure: boolean };
  cloudflare: { token: string; apiUrl: string } | undefined;
  provisioningPublicKey: string;
  vpnPeerAddresses?: ProgramSettings["vpnPeerAddresses"];
  /** Folder holding bin/pulumi; PATH when absent. */
  pulumiRoot?: string;
  pulumiHome?: string;
  logger: Logger;
}

/** The runner the engine uses with a real Proxmox: LocalWorkspace, passphrase file, backend from config. */
export function createAutomationPulumiRunner(s: AutomationRunnerSettings): StackRunner {
  const backendDir = fileBackendDir(s.pulumi.backendUrl);
  const project = preparePulumiProject({ ...(s.repoRoot !== undefined ? { repoRoot: s.repoRoot } : {}), dataDir: s.dataDir, backendUrl: s.pulumi.backendUrl });
  const workDir = project.workDir;
  for (const f of project.migrated)
    s.logger.warn(
      { from: f, to: project.stackConfigDir },
      "Pulumi stack config file copied under the data directory; delete the old copy once the engine runs",
    );
  const pass = ensurePassphrase(s.pulumi);
  // Credentials reach the CLI and provider plugins through the environment only (never argv).
  const envVars: Record<string, string> = {
    PULUMI_BACKEND_URL: s.pulumi.backendUrl,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    ...pass.envVars,
    PROXMOX_VE_ENDPOINT: s.proxmox.endpoint,
    PROXMOX_VE_API_TOKEN: s.proxmox.token,
    ...(s.cloudflare ? { CLOUDFLARE_API_TOKEN: s.cloudflare.token } : {}),
  };
  const settings: ProgramSettings = {
    proxmox: { endpoint: s.proxmox.endpoint, apiToken: s.proxmox.token, insecure: s.proxmox.insecure },
    cloudflare: {
      apiToken: s.cloudflare?.token ?? "",
      ...(s.cloudflare && !s.cloudflare.apiUrl.startsWith("https://api.cloudflare.com") ? { baseUrl: s.cloudflare.apiUrl } : {}),
    },
    provisioningPublicKey: s.provisioningPublicKey,
    ...(s.vpnPeerAddresses ? { vpnPeerAddresses: s.vpnPeerAddresses } : {}),
  };
  const workspace = createAutomationWorkspace({
    workDir,
    projectName: PROJECT_NAME,
    envVars,
    ...(s.pulumiRoot !== undefined ? { pulumiRoot: s.pulumiRoot } : {}),
    ...(s.pulumiHome !== undefined ? { pulumiHome: s.pulumiHome } : {}),
  });
  s.logger.info({ workDir, backend: backendDir ?? "remote", runner: "pulumi" }, "pulumi runner ready");
  return createPulumiRunner({
    workspace,
    backendUrl: s.pulumi.backendUrl,
    secrets: [pass.passphrase, s.proxmox.token, s.cloudflare?.token],
    logger: s.logger,
    programFor: (target) => {
      if (target.kind === "platform" && !s.cloudflare) {
        return () =>
          Promise.reject(new ProxstackError("pulumi.cloudflare-missing", "the platform stack needs Cloudflare: set CLOUDFLARE_API_TOKEN", { kind: "stall" }));
      }
      return programFor(target, settings);
    },
  });
}
