// The Pulumi runner: applies stacks through the Automation API (inline programs, file backend, passphrase secrets).
import os from "node:os";
import { rmSync } from "node:fs";
import { ProxstackError } from "../../lib/errors.js";
import type { Logger } from "../../lib/logger.js";
import { PROJECT_NAME } from "../../programs/naming.js";
import type { ApplyResult, PlanStep, PreviewResult, RunOptions, StackRunner, StackTarget } from "../runner.js";
import { createRedactor, mapPulumiError, type Redactor } from "./errors.js";
import { changeSummaryOf, planStepOf, sanitise, translateEvent } from "./events.js";
import { ensurePassphrase } from "./passphrase.js";
import { emptyProgram, programFor, type ProgramSettings } from "../program.js";
import { fileBackendDir, preparePulumiProject } from "./project.js";
import { listDiyLocks, pendingOf, readDiyCheckpoints, systemProcessTable, withoutPendingOperations, type ProcessTable } from "./recover.js";
import { createKeyedGate, createSerialGate } from "../../lib/serial-gate.js";
import { createAutomationWorkspace, type EngineEvent, type OutputMap, type PulumiOpOptions, type PulumiProgram, type PulumiStackApi, type PulumiWorkspaceApi } from "./workspace.js";

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

/** The runner over any PulumiWorkspaceApi: the real Automation API adapter, or a fake in tests. */
export function createPulumiRunner(deps: PulumiRunnerDeps): StackRunner {
  const redact = createRedactor(deps.secrets);
  const project = deps.project ?? PROJECT_NAME;
  const processes = deps.processes ?? systemProcessTable(() => os.hostname());
  // `stack select` rewrites the workspace's current-stack file: one at a time in this process.
  const selectGate = createSerialGate();
  // One operation per stack at a time, whatever the caller does.
  const stackGate = createKeyedGate();

  const open = (name: string, program: PulumiProgram): Promise<PulumiStackApi> =>
    selectGate(() => deps.workspace.createOrSelectStack(name, program));

  async function operate<T>(stack: string, what: string, fn: (log: Logger) => Promise<T>): Promise<T> {
    const log = deps.logger.child({ stack, op: what, runner: "pulumi" });
    return stackGate(stack, async () => {
      try {
        return await fn(log);
      } catch (err) {
        const mapped = mapPulumiError(err, `${what} ${stack}`, redact);
        log.warn({ code: mapped.code, kind: mapped.kind, err: mapped.message }, "pulumi operation failed");
        throw mapped;
      }
    });
  }

  /** Engine-event sink: forwards RunEvents, collects plan steps and the urns a run changed. */
  function collector(opts: RunOptions | undefined) {
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
    const op: PulumiOpOptions = { onEvent, ...(opts?.signal ? { signal: opts.signal } : {}) };
    return { steps, changed, op };
  }

  async function previewStack(stack: PulumiStackApi, opts: RunOptions | undefined): Promise<PreviewResult> {
    const c = collector(opts);
    const r = await stack.preview(c.op);
    return { steps: c.steps, changeSummary: changeSummaryOf(r.changeSummary) };
  }

  return {
    mode: "pulumi",

    preview: (target, opts) =>
      operate(target.name, "preview", async () => previewStack(await open(target.name, deps.programFor(target)), opts)),

    up: (target, opts) =>
      operate(target.name, "up", async (log) => {
        const stack = await open(target.name, deps.programFor(target));
        const c = collector(opts);
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
        const c = collector(opts);
        const r = await stack.destroy(c.op);
        return { outputs: {}, changeSummary: changeSummaryOf(r.resourceChanges), changed: [] };
      }),

    refresh: (target, opts) =>
      operate(target.name, "refresh", async () => {
        const stack = await open(target.name, deps.programFor(target));
        // Refresh adopts the real state; the preview that follows is what would restore the desired one.
        await stack.refresh(collector(opts).op);
        return previewStack(stack, opts);
      }),

    recover: () => recover(deps, project, processes, redact, open),
  };
}

async function recover(
  deps: PulumiRunnerDeps,
  project: string,
  processes: ProcessTable,
  redact: Redactor,
  open: (name: string, program: PulumiProgram) => Promise<PulumiStackApi>,
): Promise<{ stack: string; cleared: string }[]> {
  const log = deps.logger.child({ runner: "pulumi", op: "recover" });
  const cleared: { stack: string; cleared: string }[] = [];
  const dir = fileBackendDir(deps.backendUrl);
  try {
    // Fail fast at start-up: a missing or too old CLI is named here, not by every run.
    await deps.workspace.cliVersion();
    if (dir !== undefined) {
      for (const lock of listDiyLocks(dir, project)) {
        const here = lock.hostname === processes.hostname();
        if (!here || lock.pid <= 0 || processes.isAlive(lock.pid)) {
          log.warn({ stack: lock.stack, lockHost: lock.hostname, pid: lock.pid }, here ? "stack locked by a live process: left alone" : "stack locked from another host: cannot prove its owner dead, left alone");
          continue;
        }
        // Exactly what `pulumi cancel` does for a DIY backend, without needing the CLI; the owner is dead.
        rmSync(lock.file, { force: true });
        cleared.push({ stack: lock.stack, cleared: `stale lock of dead process ${lock.pid} (${lock.username}@${lock.hostname}, ${lock.timestamp}) removed` });
      }
      for (const cp of readDiyCheckpoints(dir, project)) {
        if (cp.pending.length === 0) continue;
        const stack = await open(cp.stack, emptyProgram);
        // The stored deployment keeps secrets encrypted; importing it never decrypts them.
        await stack.importStack(withoutPendingOperations(cp.latest));
        cleared.push({ stack: cp.stack, cleared: pendingText(cp.pending) });
      }
    } else {
      for (const name of await deps.workspace.listStacks()) {
        const stack = await open(name, emptyProgram);
        // Plaintext secrets: held in memory only for this import, never logged.
        const exported = await stack.exportStack();
        const latest = (exported.deployment ?? {}) as Record<string, unknown>;
        const pending = pendingOf(latest);
        if (pending.length === 0) continue;
        await stack.importStack(withoutPendingOperations(latest));
        cleared.push({ stack: name, cleared: pendingText(pending) });
      }
    }
  } catch (err) {
    throw mapPulumiError(err, "recover", redact);
  }
  for (const c of cleared) log.warn(c, "crash leftovers cleared");
  return cleared;
}

function pendingText(pending: { kind: string; urn: string }[]): string {
  const list = pending.map((p) => `${p.kind} ${p.urn}`).join(", ");
  return `${pending.length} pending operation(s) removed from state (${list}); an interrupted create may have left a real resource: the next run reports a VMID or name conflict if so`;
}

/** Stack outputs as plain values; secret outputs are replaced, never returned in clear. */
function plainOutputs(outputs: OutputMap, redact: Redactor): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.secret ? "[secret]" : sanitise(v.value, redact)]));
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
  for (const f of project.migrated) s.logger.warn({ from: f, to: project.stackConfigDir }, "Pulumi stack config file copied under the data directory; delete the old copy once the engine runs");
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
    cloudflare: { apiToken: s.cloudflare?.token ?? "", ...(s.cloudflare && !s.cloudflare.apiUrl.startsWith("https://api.cloudflare.com") ? { baseUrl: s.cloudflare.apiUrl } : {}) },
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
        return () => Promise.reject(new ProxstackError("pulumi.cloudflare-missing", "the platform stack needs Cloudflare: set CLOUDFLARE_API_TOKEN", { kind: "stall" }));
      }
      return programFor(target, settings);
    },
  });
}

