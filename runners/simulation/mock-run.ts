// Runs a Pulumi program under Pulumi's mock runtime and records every resource registration, with its inputs and options.
import { createRequire } from "node:module";
import { createSerialGate } from "../../lib/serial-gate.js";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_NAME } from "../../programs/naming.js";

/** Resource options the runtime sends with a registration (all observable through the mock monitor). */
export interface RegistrationOptions {
  /** Pulumi `protect`: destroying or replacing the resource fails. */
  protect: boolean;
  /** Replacement deletes the old resource before creating the new one. */
  deleteBeforeReplace: boolean;
  /** Input property paths whose changes are ignored after creation, e.g. `initialization.userAccount`. */
  ignoreChanges: string[];
  /** Input property paths whose change forces a replacement (on top of the provider's own rules). */
  replaceOnChanges: string[];
  /** URNs this resource is replaced with (Pulumi `replaceWith`). */
  replaceWith: string[];
  /** URNs this resource depends on: explicit `dependsOn` plus every resource whose outputs feed its inputs. */
  dependencies: string[];
  /** Leave the real object in place when Pulumi deletes the resource. */
  retainOnDelete: boolean;
}

/**
 * One registration, in the order it reached the monitor (the root stack resource first; inputs resolve
 * asynchronously, so sort by `urn` when order matters).
 *
 * - `type`: Pulumi type token, e.g. `proxmoxve:index/containerLegacy:ContainerLegacy`,
 *   `proxmoxve:firewall/rulesLegacy:RulesLegacy`, `cloudflare:index/dnsRecord:DnsRecord`, explicit
 *   providers as `pulumi:providers:proxmoxve`, the root as `pulumi:pulumi:Stack`, components by their own
 *   type (`proxstack:user:Instance`).
 * - `inputs`: resolved inputs with secrets unwrapped; outputs of other resources appear as their values
 *   (the mock returns inputs as outputs). Provider inputs that are objects or booleans arrive
 *   JSON-encoded as strings (`insecure: "false"`), exactly as the engine would send them.
 * - `secretPaths`: dotted paths of inputs that were secret (e.g. `apiToken`); consumers must not log them.
 */
export interface Registration {
  type: string;
  name: string;
  urn: string;
  /** URN of the parent; absent only for the root stack resource. */
  parent?: string;
  /** Custom resources map to a real object; components and the stack do not. */
  custom: boolean;
  /** Provider reference `<provider urn>::<id>` for custom resources with an explicit provider. */
  provider?: string;
  /** Id the mock gave the resource. */
  id: string;
  inputs: Record<string, unknown>;
  secretPaths: string[];
  options: RegistrationOptions;
}

export interface MockRunResult<O> {
  registrations: Registration[];
  /** The program's return value with every Output resolved; undefined in preview when something is unknown. */
  outputs: O | undefined;
}

export interface MockRunOptions {
  /** Stack name `pulumi.getStack()` returns. */
  stack: string;
  /** @default "proxstack" */
  project?: string;
  /** Run as a preview (unknown outputs stay unknown). @default false */
  preview?: boolean;
  /** Pulumi config for the run, e.g. `{ "proxstack:vpnPeerAddresses": "[]" }`; replaces earlier config. */
  config?: Record<string, string>;
  /** Config keys to mark secret. */
  secretConfigKeys?: string[];
  /** Id for a custom resource. @default `<name>-id` */
  id?: (r: { type: string; name: string; inputs: Record<string, unknown> }) => string;
  /** Outputs for a resource beyond its inputs (the mock returns inputs merged with these). */
  computed?: (r: { type: string; name: string; inputs: Record<string, unknown> }) => Record<string, unknown>;
}

/** The parts of the monitor's RegisterResourceRequest this module reads. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProvider(): string;
  getObject(): unknown;
  getProtect(): boolean | undefined;
  getDeletebeforereplace(): boolean;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getReplaceWithList(): string[];
  getDependenciesList(): string[];
  getRetainondelete(): boolean | undefined;
}
type Callback = (err: unknown, resp?: { getUrn(): string; getId(): string }) => void;
interface Monitor {
  registerResource(req: RegisterRequest, cb: Callback): Promise<void>;
}

// The Pulumi runtime keeps one mock monitor per process, so runs must not overlap; this chain queues
// them. It is module state by necessity: it mirrors the runtime's own process-wide state.
const queue = createSerialGate();

/**
 * Runs `program` under `pulumi.runtime.setMocks` and returns its registrations and resolved outputs.
 * Calls are queued, so several programs may be run one after another (or requested concurrently) in
 * one process; each run resets the mocks and disconnects the runtime when done. A program that throws
 * makes the returned promise reject with that very error (and leaves no unhandled rejection behind).
 */
export function mockRun<O>(program: () => Promise<O>, opts: MockRunOptions): Promise<MockRunResult<O>> {
  return queue(() => runOnce(program, opts));
}

interface Debuggable {
  debuggablePromise: (p: Promise<unknown>, ctx: unknown) => Promise<unknown>;
}

/**
 * The runtime's promise tagger, called through this module object by every part of the runtime: an internal
 * of @pulumi/pulumi. Should a release move or rename it, mock runs go on at the old speed (undefined here).
 */
const debuggable = ((): Debuggable | undefined => {
  try {
    const m = createRequire(import.meta.url)("@pulumi/pulumi/runtime/debuggable.js") as Partial<Debuggable>;
    return typeof m.debuggablePromise === "function" ? (m as Debuggable) : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * Pulumi tags each of its internal promises with `new Error().stack`, kept only for the leak report it prints at
 * exit. With source maps on (tsx runs proxstack), formatting one such stack costs ~100 µs, most of a mock run's
 * CPU. During a mock run the tags are taken with no stack frames; the leak report still names each promise's
 * context. Only this synchronous capture sees the lower limit; it is restored before the call returns.
 */
function withoutPromiseStacks(): () => void {
  if (!debuggable) return () => {};
  const tagger = debuggable;
  const original = tagger.debuggablePromise;
  tagger.debuggablePromise = (p, ctx) => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return original(p, ctx);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
  return () => {
    tagger.debuggablePromise = original;
  };
}

async function runOnce<O>(program: () => Promise<O>, opts: MockRunOptions): Promise<MockRunResult<O>> {
  const restore = withoutPromiseStacks();
  try {
    return await runMocked(program, opts);
  } finally {
    restore();
  }
}

async function runMocked<O>(program: () => Promise<O>, opts: MockRunOptions): Promise<MockRunResult<O>> {
  const registrations: Registration[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        const inputs = unwrapSecrets(a.inputs).value as Record<string, unknown>;
        const args = { type: a.type, name: a.name, inputs };
        return { id: opts.id?.(args) ?? `${a.name}-id`, state: { ...a.inputs, ...opts.computed?.(args) } };
      },
      call: (a) => a.inputs as Record<string, unknown>,
    },
    opts.project ?? PROJECT_NAME,
    opts.stack,
    opts.preview ?? false,
  );
  recordRegistrations(registrations);
  const config = opts.config ?? {};
  pulumi.runtime.setAllConfig(config, opts.secretConfigKeys ?? []);
  let outputs: unknown;
  let failure: { error: unknown } | undefined;
  try {
    // A program that throws inside runInPulumiStack also rejects the stack resource's own promises,
    // which nobody awaits (unhandled rejections); so the error is caught here and rethrown below.
    outputs = await pulumi.runtime.runInPulumiStack(async () => {
      try {
        return await program();
      } catch (error) {
        failure = { error };
        return undefined;
      }
    });
  } finally {
    // Waits for every outstanding registration, and keeps this run's late registerResourceOutputs
    // from hitting the next run's monitor.
    await pulumi.runtime.disconnect();
  }
  if (failure !== undefined) throw failure.error;
  // Slots of registrations the monitor refused stay empty; drop them.
  return { registrations: registrations.filter((r): r is Registration => r !== undefined), outputs: outputs as O | undefined };
}

function recordRegistrations(into: Registration[]): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as Monitor;
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const { value, secretPaths } = unwrapSecrets(pulumi.runtime.deserializeProperties(req.getObject() as never));
    // Claim the slot on arrival so the list keeps arrival order, not the order the mock answered.
    const slot = into.length;
    into.length = slot + 1;
    return original(req, (err, resp) => {
      if (!err && resp) {
        const parent = req.getParent();
        const provider = req.getProvider();
        into[slot] = {
          type: req.getType(),
          name: req.getName(),
          urn: resp.getUrn(),
          ...(parent ? { parent } : {}),
          custom: req.getCustom(),
          ...(provider ? { provider } : {}),
          id: resp.getId(),
          inputs: value as Record<string, unknown>,
          secretPaths,
          options: {
            protect: req.getProtect() ?? false,
            deleteBeforeReplace: req.getDeletebeforereplace(),
            ignoreChanges: req.getIgnorechangesList(),
            replaceOnChanges: req.getReplaceonchangesList(),
            replaceWith: req.getReplaceWithList(),
            dependencies: req.getDependenciesList(),
            retainOnDelete: req.getRetainondelete() ?? false,
          },
        };
      }
      cb(err, resp);
    });
  };
}

/** Replaces Pulumi's secret envelopes by their values and lists the dotted paths where they were. */
export function unwrapSecrets(input: unknown): { value: unknown; secretPaths: string[] } {
  const secretPaths: string[] = [];
  const walk = (v: unknown, path: string): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, path ? `${path}.${i}` : String(i)));
    if (v !== null && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (o[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) {
        secretPaths.push(path);
        return walk(o.value, path);
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x, path ? `${path}.${k}` : k)]));
    }
    return v;
  };
  const value = walk(input, "");
  return { value, secretPaths: [...new Set(secretPaths)] };
}
