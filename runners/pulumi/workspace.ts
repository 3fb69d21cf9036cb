// The narrow slice of the Pulumi Automation API the runner calls, and its real adapter over LocalWorkspace (which needs the CLI).
import { automation } from "@pulumi/pulumi";
import { SemVer } from "semver";
import { ProxstackError } from "../../lib/errors.js";

/**
 * The oldest Pulumi CLI proxstack runs with. The user program sets the `replaceWith` resource option
 * (firewall follows its container's replacement); a CLI whose engine does not offer the `replaceWith`
 * feature fails every run with "The Pulumi CLI does not support the ReplaceWith option" (the SDK asks
 * the engine through `supportsFeature`, `runtime/settings.js`). The SDK's sources do not record which CLI
 * release added it, so the floor is the SDK version pinned in package.json (3.248.0), which has it.
 */
export const MIN_PULUMI_CLI_VERSION = "3.248.0";

export type EngineEvent = automation.EngineEvent;
export type OpMap = automation.OpMap;
export type OutputMap = automation.OutputMap;

/** An inline program: what the CLI calls back into, in this process. */
export type PulumiProgram = () => Promise<Record<string, unknown> | undefined>;

export interface PulumiOpOptions {
  onEvent: (e: EngineEvent) => void;
  signal?: AbortSignal;
  /** Resource operations at once within the stack (`--parallel`; 1 = one after another). */
  parallel?: number;
}

/** The operations the runner performs on one selected stack. */
export interface PulumiStackApi {
  readonly name: string;
  preview(opts: PulumiOpOptions): Promise<{ changeSummary: OpMap }>;
  up(opts: PulumiOpOptions): Promise<{ outputs: OutputMap; resourceChanges: OpMap }>;
  /** `clearPendingCreates` drops pending creates a killed run left (`--clear-pending-creates`). */
  refresh(opts: PulumiOpOptions & { clearPendingCreates?: boolean }): Promise<{ resourceChanges: OpMap }>;
  destroy(opts: PulumiOpOptions): Promise<{ resourceChanges: OpMap }>;
  /** Deletes the stack's lock (`pulumi cancel`); only after the owner is proven dead. */
  cancel(): Promise<void>;
}

/** What the runner calls on the workspace. Every call runs the `pulumi` CLI in the real adapter. */
export interface PulumiWorkspaceApi {
  /** `stack select`, or `stack init` when absent. Rewrites shared workspace state: callers serialise it. */
  createOrSelectStack(stackName: string, program: PulumiProgram): Promise<PulumiStackApi>;
  /** `stack select`; undefined when the stack does not exist. */
  selectStack(stackName: string, program: PulumiProgram): Promise<PulumiStackApi | undefined>;
  listStacks(): Promise<string[]>;
  /** The CLI's version; throws pulumi.cli-missing or pulumi.cli-too-old (before any stack is touched). */
  cliVersion(): Promise<string>;
}

export interface AutomationWorkspaceOptions {
  /** Folder holding Pulumi.yaml (project `proxstack`). */
  workDir: string;
  projectName: string;
  /** Environment for every CLI run: backend URL, passphrase (file), provider credentials. Never argv. */
  envVars: Record<string, string>;
  /** Folder whose `bin/pulumi` is the CLI; `pulumi` from PATH when absent. */
  pulumiRoot?: string;
  /** PULUMI_HOME (plugins, workspace files); the user's ~/.pulumi when absent. */
  pulumiHome?: string;
}

/** The error every CLI-dependent call raises when no `pulumi` binary can be run. */
export function cliMissingError(cause: unknown): ProxstackError {
  return new ProxstackError(
    "pulumi.cli-missing",
    "the Pulumi CLI is not installed (no runnable `pulumi` binary): install it from https://www.pulumi.com/docs/install/ " +
      "(or set the runner's pulumiRoot to a folder holding bin/pulumi), or unset PROXMOX_VE_ENDPOINT to run in simulation mode",
    { kind: "stall", cause },
  );
}

/** The error when the CLI is older than {@link MIN_PULUMI_CLI_VERSION}; found and needed versions named. */
export function cliTooOldError(found: string, needed: string, cause?: unknown): ProxstackError {
  return new ProxstackError(
    "pulumi.cli-too-old",
    `the Pulumi CLI is version ${found}; proxstack needs ${needed} or newer (its programs use the ReplaceWith resource option): ` +
      "install a newer CLI from https://www.pulumi.com/docs/install/",
    { kind: "stall", ...(cause !== undefined ? { cause } : {}) },
  );
}

/**
 * Locates the CLI (`<root>/bin/pulumi`, or `pulumi` on PATH) and checks its version against `needed`
 * through the SDK's own check (`PulumiCommand.get({ version })`); errors become ProxstackErrors.
 */
export async function getPulumiCommand(opts: { root?: string; needed?: string } = {}): Promise<automation.PulumiCommand> {
  const needed = opts.needed ?? MIN_PULUMI_CLI_VERSION;
  try {
    return await automation.PulumiCommand.get({ ...(opts.root !== undefined ? { root: opts.root } : {}), version: new SemVer(needed) });
  } catch (err) {
    if (isMissingBinary(err)) throw cliMissingError(err);
    const text = err instanceof Error ? err.message : String(err);
    // The SDK's text: "The minimum CLI version requirement is X, your current CLI version is Y."
    const m = /minimum CLI version requirement is (\S+?),? your current CLI version is (\S+?)\.?(?:\s|$)/.exec(text);
    if (m) throw cliTooOldError((m[2] ?? "unknown").replace(/^v/, ""), needed, err);
    if (/Major version mismatch/.test(text)) {
      throw new ProxstackError(
        "pulumi.cli-too-new",
        `${text.split(". ")[0] ?? text}: proxstack's Pulumi SDK is major version 3; install a 3.x CLI (${needed} or newer)`,
        { kind: "stall", cause: err },
      );
    }
    throw err;
  }
}

/** The real adapter: LocalWorkspace with an inline program, the CLI located once and reused. */
export function createAutomationWorkspace(opts: AutomationWorkspaceOptions): PulumiWorkspaceApi {
  let command: Promise<automation.PulumiCommand> | undefined;
  const getCommand = (): Promise<automation.PulumiCommand> => {
    command ??= getPulumiCommand(opts.pulumiRoot !== undefined ? { root: opts.pulumiRoot } : {}).catch((err: unknown) => {
      command = undefined;
      throw err;
    });
    return command;
  };
  const localOpts = async (program: PulumiProgram): Promise<automation.LocalWorkspaceOptions> => ({
    workDir: opts.workDir,
    envVars: opts.envVars,
    pulumiCommand: await getCommand(),
    secretsProvider: "passphrase",
    program,
    ...(opts.pulumiHome !== undefined ? { pulumiHome: opts.pulumiHome } : {}),
  });
  return {
    async createOrSelectStack(stackName, program) {
      const stack = await automation.LocalWorkspace.createOrSelectStack({ stackName, projectName: opts.projectName, program }, await localOpts(program));
      return wrapStack(stack);
    },
    async selectStack(stackName, program) {
      try {
        return wrapStack(await automation.LocalWorkspace.selectStack({ stackName, projectName: opts.projectName, program }, await localOpts(program)));
      } catch (err) {
        if (err instanceof automation.StackNotFoundError) return undefined;
        throw err;
      }
    },
    async cliVersion() {
      return (await getCommand()).version?.toString() ?? "unknown";
    },
    async listStacks() {
      const ws = await automation.LocalWorkspace.create(await localOpts(() => Promise.resolve(undefined)));
      return (await ws.listStacks()).map((s) => s.name);
    },
  };
}

function isMissingBinary(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message} ${String((err as { code?: unknown }).code ?? "")}` : String(err);
  return /ENOENT|not found|no such file/i.test(text);
}

function wrapStack(stack: automation.Stack): PulumiStackApi {
  const common = (o: PulumiOpOptions) => ({
    onEvent: o.onEvent,
    color: "never" as const,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.parallel !== undefined ? { parallel: o.parallel } : {}),
  });
  return {
    name: stack.name,
    async preview(o) {
      const r = await stack.preview({ ...common(o), diff: true });
      return { changeSummary: r.changeSummary };
    },
    async up(o) {
      // showSecrets=false keeps decrypted config out of the summary; outputs still come back marked secret.
      const r = await stack.up({ ...common(o), showSecrets: false });
      return { outputs: r.outputs, resourceChanges: r.summary.resourceChanges ?? {} };
    },
    async refresh(o) {
      const r = await stack.refresh({ ...common(o), showSecrets: false, ...(o.clearPendingCreates ? { clearPendingCreates: true } : {}) });
      return { resourceChanges: r.summary.resourceChanges ?? {} };
    },
    async destroy(o) {
      const r = await stack.destroy({ ...common(o), showSecrets: false });
      return { resourceChanges: r.summary.resourceChanges ?? {} };
    },
    cancel: () => stack.cancel(),
  };
}
