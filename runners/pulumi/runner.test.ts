// Contract test of the Pulumi runner against a fake Automation API workspace (the CLI cannot run here), plus the real adapter's missing-CLI error.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { automation } from "@pulumi/pulumi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ProxstackError } from "../../lib/errors.js";
import { createLogger } from "../../lib/logger.js";
import { PlatformSpecSchema, UserStackSpecSchema } from "../../schemas/index.js";
import { ensurePassphrase } from "./passphrase.js";
import { preparePulumiProject } from "./project.js";
import { createAutomationPulumiRunner, createPulumiRunner, realProxmoxEngineLimits } from "./runner.js";
import {
  createAutomationWorkspace,
  MIN_PULUMI_CLI_VERSION,
  type EngineEvent,
  type PulumiOpOptions,
  type PulumiStackApi,
  type PulumiWorkspaceApi,
} from "./workspace.js";
import type { RunEvent, StackTarget } from "../runner.js";
import { RESOURCE_TYPE, resourceUrn } from "../../programs/naming.js";

const TOKEN = "root@pam!proxstack=3f0c9a0e-5b7e-4d7a-9a51-c0ffee000001";
const PASSPHRASE = "correct-horse-battery-staple-passphrase";

const repo = path.resolve(import.meta.dirname, "../..");
const platform = PlatformSpecSchema.parse(parse(readFileSync(path.join(repo, "stacks/platform.yaml"), "utf8")));
const alice = UserStackSpecSchema.parse(parse(readFileSync(path.join(repo, "stacks/alice.yaml"), "utf8")));
const target = (name: string): StackTarget => ({ kind: "user", name, spec: { ...alice, name }, platform });

/** Builds the SDK's own error classes the way its CLI wrapper does (their constructors are internal). */
function sdkError(cls: "CommandError" | "ConcurrentUpdateError" | "StackNotFoundError", stderr: string): Error {
  const Ctor = automation[cls] as unknown as new (r: { stderr: string; stdout: string; code: number; toString(): string }) => Error;
  return new Ctor({ stderr, stdout: "", code: 255, toString: () => `code: 255\n stdout: \n stderr: ${stderr}\n` });
}

const CT = RESOURCE_TYPE.container;
const urn = (name: string, type: string = CT) => resourceUrn("alice", type, name);

/** A fake workspace that behaves like the CLI as seen through the SDK: events, results, errors. */
/** What the fake CLI does to the backend for `cancel` and `refresh --clear-pending-creates`. */
interface FakeBackend {
  cancel?: (stack: string) => void;
  clearPendingCreates?: (stack: string) => void;
  /** Called while an operation's program "runs", with its process-wide handlers installed. */
  during?: (stack: string, kind: string) => Promise<void> | void;
}

/**
 * What the SDK's language server does around every inline-program run (`automation/server.js`,
 * `LanguageServer.run`): process-wide uncaughtException/unhandledRejection handlers collect errors
 * while the program runs, and the run fails with "One or more errors occurred: …" when any arrived.
 */
async function asInlineRun<T>(body: () => Promise<T>): Promise<T> {
  const errors = new Set<unknown>();
  const handler = (err: unknown) => void errors.add(err);
  process.on("uncaughtException", handler);
  process.on("unhandledRejection", handler);
  try {
    return await body();
  } finally {
    process.off("uncaughtException", handler);
    process.off("unhandledRejection", handler);
    if (errors.size > 0) {
      throw sdkError(
        "CommandError",
        `error: an unhandled error occurred: One or more errors occurred: ${[...errors].map((e) => (e as Error).message).join(", ")}`,
      );
    }
  }
}

function fakeWorkspace(backend: FakeBackend = {}) {
  const calls: string[] = [];
  let selecting = 0;
  let maxSelecting = 0;
  const runningOps = new Map<string, number>();
  let maxOpsPerStack = 0;
  const failNext = new Map<string, Error>();
  const parallels: string[] = [];
  const known = new Set<string>(["alice"]);
  const tick = () => new Promise((r) => setImmediate(r));
  const ev = (seq: number, e: Partial<EngineEvent>): EngineEvent => ({ sequence: seq, timestamp: 1_764_000_000 + seq, ...e });
  const events = (o: PulumiOpOptions, op: "create" | "update" | "same") => {
    o.onEvent(ev(0, { preludeEvent: { config: { "proxmoxve:apiToken": TOKEN } } }));
    const meta = {
      op,
      urn: urn("alice/web/container"),
      type: CT,
      provider: "",
      new: {
        type: CT,
        urn: urn("alice/web/container"),
        id: "",
        parent: "",
        provider: "",
        inputs: { vmId: 2001, cpu: { cores: 2 }, apiToken: TOKEN, note: `token is ${TOKEN}` },
        outputs: {},
      },
      diffs: op === "update" ? ["cpu"] : [],
    };
    o.onEvent(ev(1, { resourcePreEvent: { metadata: meta as never } }));
    o.onEvent(ev(2, { diagnosticEvent: { message: `provider said: auth with ${TOKEN} ok\n`, color: "never", severity: "info" } }));
    o.onEvent(ev(3, { resOutputsEvent: { metadata: meta as never } }));
    o.onEvent(ev(4, { stdoutEvent: { message: "raw", color: "never" } }));
    o.onEvent(ev(5, { summaryEvent: { maybeCorrupt: false, durationSeconds: 1, resourceChanges: { [op]: 1, same: 2 }, policyPacks: {} } }));
  };
  const stackApi = (name: string): PulumiStackApi => {
    const op = async <T>(kind: string, fn: () => T): Promise<T> => {
      calls.push(`${kind} ${name}`);
      runningOps.set(name, (runningOps.get(name) ?? 0) + 1);
      maxOpsPerStack = Math.max(maxOpsPerStack, runningOps.get(name) ?? 0);
      await asInlineRun(async () => {
        await tick();
        await backend.during?.(name, kind);
        await tick();
      });
      runningOps.set(name, (runningOps.get(name) ?? 1) - 1);
      const err = failNext.get(name);
      if (err) {
        failNext.delete(name);
        throw err;
      }
      return fn();
    };
    return {
      name,
      preview: (o) => (parallels.push(`preview ${name} ${o.parallel}`), op("preview", () => (events(o, "update"), { changeSummary: { update: 1, same: 2 } }))),
      up: (o) => (
        parallels.push(`up ${name} ${o.parallel}`),
        op(
          "up",
          () => (
            events(o, "create"),
            { outputs: { stack: { value: name, secret: false }, token: { value: TOKEN, secret: true } }, resourceChanges: { create: 1, same: 2 } }
          ),
        )
      ),
      refresh: (o) =>
        op(o.clearPendingCreates ? "refresh --clear-pending-creates" : "refresh", () => {
          if (o.clearPendingCreates) backend.clearPendingCreates?.(name);
          events(o, "same");
          return { resourceChanges: { same: 3 } };
        }),
      destroy: (o) => (parallels.push(`destroy ${name} ${o.parallel}`), op("destroy", () => (events(o, "same"), { resourceChanges: { delete: 3 } }))),
      cancel: () => op("cancel", () => backend.cancel?.(name)),
    };
  };
  const select = async (name: string) => {
    selecting++;
    maxSelecting = Math.max(maxSelecting, selecting);
    await tick();
    selecting--;
    calls.push(`select ${name}`);
  };
  const ws: PulumiWorkspaceApi = {
    async createOrSelectStack(name) {
      await select(name);
      known.add(name);
      return stackApi(name);
    },
    async selectStack(name) {
      await select(name);
      return known.has(name) ? stackApi(name) : undefined;
    },
    listStacks: () => Promise.resolve([...known]),
    cliVersion: () => Promise.resolve(MIN_PULUMI_CLI_VERSION),
  };
  return { ws, calls, parallels, failNext, stats: () => ({ maxSelecting, maxOpsPerStack }) };
}

function memoryLog() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger("debug", stream), text: () => lines.join("") };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "pulumi-runner-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function makeRunner(extra: Partial<Parameters<typeof createPulumiRunner>[0]> = {}, backend: FakeBackend = {}) {
  const fake = fakeWorkspace(backend);
  const log = memoryLog();
  const runner = createPulumiRunner({
    workspace: fake.ws,
    programFor: () => () => Promise.resolve({}),
    backendUrl: `file://${dir}`,
    secrets: [TOKEN, PASSPHRASE],
    logger: log.logger,
    ...extra,
  });
  return { runner, fake, log };
}

describe("pulumi runner (fake workspace)", () => {
  it("serialises stack create/select across stacks and runs one operation per stack at a time", async () => {
    const { runner, fake } = makeRunner();
    await Promise.all([
      ...["alice", "bob", "carol", "dave", "erin"].map((n) => runner.preview(target(n))),
      runner.up(target("alice")),
      runner.up(target("alice")),
    ]);
    expect(fake.stats().maxSelecting).toBe(1);
    expect(fake.stats().maxOpsPerStack).toBe(1);
    expect(fake.calls.filter((c) => c.startsWith("select"))).toHaveLength(7);
  });

  it("runs one Pulumi operation at a time per process: a stray rejection in one inline run fails that run only", async () => {
    // The test runner's own handlers would report the injected rejection: set them aside meanwhile.
    const saved = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    let active = 0;
    let maxActive = 0;
    const order: string[] = [];
    try {
      const { runner: first } = makeRunner(
        {},
        {
          during: async (stack) => {
            active++;
            maxActive = Math.max(maxActive, active);
            order.push(`start ${stack}`);
            if (stack === "alice") process.emit("unhandledRejection", new Error("stray rejection in alice's program"), Promise.resolve());
            await new Promise((r) => setTimeout(r, 20));
            order.push(`end ${stack}`);
            active--;
          },
        },
      );
      // A second runner in the same process (say, a CLI command beside the engine) shares the gate.
      const { runner: second } = makeRunner(
        {},
        {
          during: (stack) => {
            order.push(`start ${stack}`, `end ${stack}`);
          },
        },
      );
      const [a, b, c] = await Promise.allSettled([first.up(target("alice")), first.up(target("bob")), second.up(target("carol"))]);
      expect(a).toMatchObject({
        status: "rejected",
        reason: { code: "pulumi.command-failed", message: expect.stringContaining("stray rejection in alice's program") },
      });
      expect(b).toMatchObject({ status: "fulfilled" });
      expect(c).toMatchObject({ status: "fulfilled" });
      expect(maxActive).toBe(1);
      expect(order).toEqual(["start alice", "end alice", "start bob", "end bob", "start carol", "end carol"]);
    } finally {
      for (const l of saved) process.on("unhandledRejection", l);
    }
  });

  it("translates engine events and plan steps, and keeps every secret out of what it records", async () => {
    const { runner, log } = makeRunner();
    const events: RunEvent[] = [];
    const preview = await runner.preview(target("alice"), { onEvent: (e) => events.push(e) });
    expect(preview.changeSummary).toEqual({ update: 1, same: 2 });
    expect(preview.steps).toEqual([
      expect.objectContaining({
        urn: urn("alice/web/container"),
        name: "alice/web/container",
        op: "update",
        diffs: ["cpu"],
        inputs: expect.objectContaining({ vmId: 2001, cpu: { cores: 2 } }),
      }),
    ]);
    expect(preview.steps[0]?.inputs).not.toHaveProperty("apiToken");
    expect(events.map((e) => e.type)).toEqual(["prelude", "resource-pre", "diagnostic", "resource-outputs", "summary"]);
    expect(events[1]).toMatchObject({ op: "update", resourceType: CT, at: new Date(1_764_000_001_000).toISOString() });
    expect(events[4]?.message).toBe("same 2, update 1");
    expect(events[2]?.message).toContain("[secret]");

    const applied = await runner.up(target("alice"), { onEvent: (e) => events.push(e) });
    expect(applied.changeSummary).toEqual({ create: 1, same: 2 });
    expect(applied.changed).toEqual([urn("alice/web/container")]);
    expect(applied.outputs).toEqual({ stack: "alice", token: "[secret]" });

    const recorded = JSON.stringify({ events, preview, applied }) + log.text();
    expect(recorded).not.toContain(TOKEN);
    expect(recorded).not.toContain(PASSPHRASE);
  });

  it.each([
    ["ConcurrentUpdateError", sdkError("ConcurrentUpdateError", "error: the stack is currently locked by 1 lock(s)."), "pulumi.stack-locked", "retry"],
    [
      "locked text in a CommandError",
      sdkError("CommandError", "error: the stack is currently locked by 1 lock(s). Either wait"),
      "pulumi.stack-locked",
      "retry",
    ],
    ["protected resource", sdkError("CommandError", "error: resource urn:x cannot be deleted because it is protected"), "pulumi.protected", "stall"],
    ["wrong passphrase", sdkError("CommandError", "error: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE"), "pulumi.passphrase", "stall"],
    ["missing plugin", sdkError("CommandError", "error: no resource plugin 'proxmoxve' found in the workspace"), "pulumi.plugin-missing", "stall"],
    [
      "unreachable API",
      sdkError("CommandError", `error: Post "https://pve:8006": dial tcp: connect: ECONNREFUSED (token ${TOKEN})`),
      "pulumi.network",
      "retry",
    ],
    ["anything else", sdkError("CommandError", "error: something odd"), "pulumi.command-failed", "retry"],
  ])("maps %s to a ProxstackError through the table", async (_what, err, code, kind) => {
    const { runner, fake, log } = makeRunner();
    fake.failNext.set("alice", err);
    const got = await runner.up(target("alice")).catch((e: unknown) => e);
    expect(got).toBeInstanceOf(ProxstackError);
    expect(got).toMatchObject({ code, kind });
    expect((got as Error).message).toMatch(/^up alice: pulumi: error:/);
    expect(JSON.stringify(got) + String(got) + log.text()).not.toContain(TOKEN);
  });

  it("asks the engine for one stack at a time per Proxmox node on real Proxmox, unless the platform file says otherwise", () => {
    expect(realProxmoxEngineLimits(undefined)).toEqual({ perNodeLimit: 1 });
    expect(realProxmoxEngineLimits(platform)).toEqual({ perNodeLimit: 1 });
    expect(realProxmoxEngineLimits({ ...platform, proxmox: { ...platform.proxmox, perNodeLimit: 2 } })).toEqual({ perNodeLimit: 2 });
  });

  it("limits Pulumi's parallel for user stacks to the platform file's proxmox.parallel (default 1); the platform stack is not limited", async () => {
    expect(platform.proxmox.parallel).toBe(1);
    const { runner, fake } = makeRunner();
    await runner.up(target("alice"));
    await runner.destroy("alice");
    await runner.preview({ kind: "platform", name: "platform", platform, users: [] });
    const three = { ...platform, proxmox: { ...platform.proxmox, parallel: 3 } };
    await runner.up({ kind: "user", name: "alice", spec: alice, platform: three });
    await runner.destroy("alice");
    expect(fake.parallels).toEqual(["up alice 1", "destroy alice 1", "preview platform undefined", "up alice 3", "destroy alice 3"]);
  });

  it("destroys an existing stack and treats an absent one as already destroyed", async () => {
    const { runner, fake } = makeRunner();
    expect((await runner.destroy("alice")).changeSummary).toEqual({ delete: 3 });
    expect(await runner.destroy("nobody")).toEqual({ outputs: {}, changeSummary: {}, changed: [] });
    expect(fake.calls).toContain("destroy alice");
    expect(fake.calls).not.toContain("destroy nobody");
  });

  it("refreshes, then previews what would restore the desired state", async () => {
    const { runner, fake } = makeRunner();
    const r = await runner.refresh(target("alice"));
    expect(fake.calls.filter((c) => !c.startsWith("select"))).toEqual(["refresh alice", "preview alice"]);
    expect(r.changeSummary).toEqual({ update: 1, same: 2 });
  });

  const lockDir = (stack: string) => path.join(dir, ".pulumi", "locks", "organization", "proxstack", stack);
  const stacksDir = () => path.join(dir, ".pulumi", "stacks", "proxstack");
  const lockOf = (pid: number) => JSON.stringify({ pid, username: "root", hostname: os.hostname(), timestamp: "2026-11-25T22:00:00Z" });
  const deadPid = (): number => {
    const pid = spawnSync(process.execPath, ["-e", "process.pid"]).pid ?? 0;
    expect(pid).toBeGreaterThan(0);
    return pid;
  };
  const ciphertext = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "v1:AAAAencrypted" };
  const checkpoint = (pending: boolean) => ({
    manifest: { time: "2026-11-25T22:00:00Z" },
    secrets_providers: { type: "passphrase", state: { salt: "v1:salt" } },
    resources: [{ urn: urn("alice/web/container"), type: CT, inputs: { apiToken: ciphertext } }],
    pending_operations: pending ? [{ type: "creating", resource: { urn: urn("alice/dev/container"), type: CT, inputs: { apiToken: ciphertext } } }] : [],
  });
  const writeCheckpoint = (stack: string, pending: boolean) => {
    mkdirSync(stacksDir(), { recursive: true });
    writeFileSync(
      path.join(stacksDir(), `${stack}.json`),
      JSON.stringify({ version: 3, checkpoint: { stack: `organization/proxstack/${stack}`, latest: checkpoint(pending) } }),
    );
  };
  /** Like the CLI on a DIY backend: cancel deletes the stack's locks; --clear-pending-creates rewrites the checkpoint without them. */
  const diyBackend: FakeBackend = {
    cancel: (stack) => rmSync(lockDir(stack), { recursive: true, force: true }),
    clearPendingCreates: (stack) => writeCheckpoint(stack, false),
  };

  it("recover() cancels a dead process's lock, leaves a live one, and clears pending creates by refresh — nothing exported or imported", async () => {
    const dead = deadPid();
    mkdirSync(lockDir("alice"), { recursive: true });
    mkdirSync(lockDir("bob"), { recursive: true });
    writeFileSync(path.join(lockDir("alice"), "0b6c.json"), lockOf(dead));
    writeFileSync(path.join(lockDir("bob"), "9f1e.json"), lockOf(process.pid));
    writeCheckpoint("alice", true);
    writeCheckpoint("bob", false);

    const { runner, fake, log } = makeRunner({}, diyBackend);
    const cleared = await runner.recover();

    expect(existsSync(path.join(lockDir("alice"), "0b6c.json"))).toBe(false);
    expect(existsSync(path.join(lockDir("bob"), "9f1e.json"))).toBe(true);
    expect(cleared.map((c) => c.stack)).toEqual(["alice", "alice"]);
    expect(cleared[0]?.cleared).toContain(`dead process ${dead}`);
    expect(cleared[1]?.cleared).toContain(`creating ${urn("alice/dev/container")}`);
    expect(fake.calls.filter((c) => !c.startsWith("select"))).toEqual(["cancel alice", "refresh --clear-pending-creates alice"]);
    expect(log.text()).not.toContain("v1:AAAAencrypted");
    expect(await runner.recover()).toEqual([]);
  });

  it("a stack whose CLI was killed mid-run is healed on its next operation, without an engine restart", async () => {
    writeCheckpoint("alice", true);
    mkdirSync(lockDir("alice"), { recursive: true });
    writeFileSync(path.join(lockDir("alice"), "77aa.json"), lockOf(deadPid()));
    const { runner, fake } = makeRunner({}, diyBackend);
    fake.failNext.set(
      "alice",
      sdkError(
        "ConcurrentUpdateError",
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.",
      ),
    );

    const applied = await runner.up(target("alice"));

    expect(applied.changeSummary).toEqual({ create: 1, same: 2 });
    expect(fake.calls.filter((c) => !c.startsWith("select"))).toEqual(["up alice", "cancel alice", "refresh --clear-pending-creates alice", "up alice"]);
    expect(existsSync(lockDir("alice"))).toBe(false);
  });

  it("a lock held by a live process is left alone: the operation fails as stack-locked (retry later)", async () => {
    mkdirSync(lockDir("alice"), { recursive: true });
    writeFileSync(path.join(lockDir("alice"), "5151.json"), lockOf(process.pid));
    const { runner, fake } = makeRunner({}, diyBackend);
    fake.failNext.set("alice", sdkError("ConcurrentUpdateError", "error: the stack is currently locked by 1 lock(s)."));
    await expect(runner.up(target("alice"))).rejects.toMatchObject({ code: "pulumi.stack-locked", kind: "retry" });
    expect(fake.calls.filter((c) => !c.startsWith("select"))).toEqual(["up alice"]);
    expect(existsSync(path.join(lockDir("alice"), "5151.json"))).toBe(true);
  });

  it("pending operations reported by an operation are cleared by refresh --clear-pending-creates, then the operation runs again", async () => {
    const { runner, fake } = makeRunner({ backendUrl: "s3://bucket/state" });
    fake.failNext.set("alice", sdkError("CommandError", "error: the current deployment has 1 resource(s) with pending operations"));
    expect((await runner.preview(target("alice"))).changeSummary).toEqual({ update: 1, same: 2 });
    expect(fake.calls.filter((c) => !c.startsWith("select"))).toEqual(["preview alice", "refresh --clear-pending-creates alice", "preview alice"]);
  });
});

describe("pulumi runner set-up", () => {
  it("works in a data-dir project whose stackConfigDir keeps Pulumi.<stack>.yaml under the data dir, not in the checkout", () => {
    const checkout = path.join(dir, "checkout");
    const data = path.join(dir, "data");
    mkdirSync(checkout);
    writeFileSync(path.join(checkout, "Pulumi.yaml"), readFileSync(path.join(repo, "Pulumi.yaml")));
    writeFileSync(path.join(checkout, "Pulumi.alice.yaml"), "encryptionsalt: v1:from-the-checkout\n");
    mkdirSync(path.join(data, "pulumi-project", "stack-config"), { recursive: true });
    writeFileSync(path.join(data, "pulumi-project", "stack-config", "Pulumi.bob.yaml"), "encryptionsalt: v1:already-here\n");
    writeFileSync(path.join(checkout, "Pulumi.bob.yaml"), "encryptionsalt: v1:stale\n");

    const p = preparePulumiProject({ repoRoot: checkout, dataDir: data, backendUrl: "file:///x" });
    expect(p.workDir).toBe(path.join(data, "pulumi-project"));
    expect(p.stackConfigDir).toBe(path.join(data, "pulumi-project", "stack-config"));
    expect(parse(readFileSync(path.join(p.workDir, "Pulumi.yaml"), "utf8"))).toEqual({
      name: "proxstack",
      description: expect.any(String),
      runtime: "nodejs",
      backend: { url: "file:///x" },
      stackConfigDir: "stack-config",
    });
    // A salt left in the checkout is carried over once; one already under the data dir is never overwritten.
    expect(p.migrated).toEqual([path.join(checkout, "Pulumi.alice.yaml")]);
    expect(readFileSync(path.join(p.stackConfigDir, "Pulumi.alice.yaml"), "utf8")).toBe("encryptionsalt: v1:from-the-checkout\n");
    expect(statSync(path.join(p.stackConfigDir, "Pulumi.alice.yaml")).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(p.stackConfigDir, "Pulumi.bob.yaml"), "utf8")).toBe("encryptionsalt: v1:already-here\n");
    expect(preparePulumiProject({ repoRoot: checkout, dataDir: data, backendUrl: "file:///x" }).migrated).toEqual([]);
  });

  it("the checkout's Pulumi.yaml points the operator's CLI at the same stack config folder (default data dir)", () => {
    expect(parse(readFileSync(path.join(repo, "Pulumi.yaml"), "utf8"))).toMatchObject({
      name: "proxstack",
      stackConfigDir: "data/pulumi-project/stack-config",
    });
  });

  it("refuses a checkout Pulumi.yaml naming another project", () => {
    writeFileSync(path.join(dir, "Pulumi.yaml"), "name: other\nruntime: nodejs\n");
    expect(() => preparePulumiProject({ repoRoot: dir, dataDir: dir, backendUrl: "file:///x" })).toThrow(/names project "other".*"proxstack"/);
  });

  it("generates the passphrase file once with mode 0600, and prefers a configured passphrase", () => {
    const file = path.join(dir, "data", "pulumi-passphrase");
    const first = ensurePassphrase({ passphraseFile: file });
    expect(first.envVars).toEqual({ PULUMI_CONFIG_PASSPHRASE_FILE: file });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.passphrase.length).toBeGreaterThanOrEqual(40);
    expect(ensurePassphrase({ passphraseFile: file }).passphrase).toBe(first.passphrase);
    expect(ensurePassphrase({ passphrase: "x".repeat(12), passphraseFile: file }).envVars).toEqual({ PULUMI_CONFIG_PASSPHRASE: "x".repeat(12) });
  });

  it("the real Automation API adapter fails with pulumi.cli-missing when no pulumi binary exists", async () => {
    const ws = createAutomationWorkspace({ workDir: dir, projectName: "proxstack", envVars: {}, pulumiRoot: path.join(dir, "no-cli") });
    const err = await ws.createOrSelectStack("alice", () => Promise.resolve({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProxstackError);
    expect(err).toMatchObject({ code: "pulumi.cli-missing", kind: "stall" });
    expect((err as Error).message).toMatch(/install/i);
    expect((err as Error).message).toContain("PROXMOX_VE_ENDPOINT");
  });

  /** A fake `pulumi` binary at `<root>/bin/pulumi` that answers `pulumi version` (what PulumiCommand.get runs). */
  function fakeCli(version: string): string {
    const root = path.join(dir, `cli-${version}`);
    mkdirSync(path.join(root, "bin"), { recursive: true });
    writeFileSync(
      path.join(root, "bin", "pulumi"),
      `#!/bin/sh\nif [ "$1" = version ]; then echo "v${version}"; exit 0; fi\necho "fake cli: $*" >&2; exit 1\n`,
      { mode: 0o755 },
    );
    return root;
  }

  it("refuses a Pulumi CLI older than the minimum through PulumiCommand.get({ version }), naming found and needed versions", async () => {
    expect(MIN_PULUMI_CLI_VERSION).toBe("3.248.0");
    const ws = createAutomationWorkspace({ workDir: dir, projectName: "proxstack", envVars: {}, pulumiRoot: fakeCli("3.150.2") });
    const err = await ws.createOrSelectStack("alice", () => Promise.resolve({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProxstackError);
    expect(err).toMatchObject({ code: "pulumi.cli-too-old", kind: "stall" });
    expect((err as Error).message).toMatch(
      /^the Pulumi CLI is version 3\.150\.2; proxstack needs 3\.248\.0 or newer \(its programs use the ReplaceWith resource option\)/,
    );
    await expect(ws.cliVersion()).rejects.toMatchObject({ code: "pulumi.cli-too-old" });
  });

  it("accepts a CLI at or above the minimum and reports its version", async () => {
    expect(await createAutomationWorkspace({ workDir: dir, projectName: "proxstack", envVars: {}, pulumiRoot: fakeCli("3.248.0") }).cliVersion()).toBe(
      "3.248.0",
    );
    expect(await createAutomationWorkspace({ workDir: dir, projectName: "proxstack", envVars: {}, pulumiRoot: fakeCli("3.260.1") }).cliVersion()).toBe(
      "3.260.1",
    );
  });

  it("the wired runner's recover() fails fast at start-up on a too old CLI, before touching any stack", async () => {
    const runner = createAutomationPulumiRunner({
      dataDir: path.join(dir, "data"),
      pulumi: { backendUrl: `file://${path.join(dir, "data", "pulumi")}`, passphraseFile: path.join(dir, "data", "pulumi-passphrase") },
      proxmox: { endpoint: "https://pve.invalid:8006/", token: TOKEN, insecure: false },
      cloudflare: undefined,
      provisioningPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn proxstack",
      pulumiRoot: fakeCli("3.99.0"),
      logger: memoryLog().logger,
    });
    await expect(runner.recover()).rejects.toMatchObject({
      code: "pulumi.cli-too-old",
      message: expect.stringContaining("version 3.99.0; proxstack needs 3.248.0"),
    });
  });

  it("the wired runner writes a data-dir project with the backend and reports the missing CLI on preview", async () => {
    const { logger, text } = memoryLog();
    const runner = createAutomationPulumiRunner({
      dataDir: path.join(dir, "data"),
      pulumi: { backendUrl: `file://${path.join(dir, "data", "pulumi")}`, passphraseFile: path.join(dir, "data", "pulumi-passphrase") },
      proxmox: { endpoint: "https://pve.invalid:8006/", token: TOKEN, insecure: false },
      cloudflare: undefined,
      provisioningPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn proxstack",
      pulumiRoot: path.join(dir, "no-cli"),
      logger,
    });
    expect(runner.mode).toBe("pulumi");
    const project = parse(readFileSync(path.join(dir, "data", "pulumi-project", "Pulumi.yaml"), "utf8")) as { name: string; backend: { url: string } };
    expect(project).toMatchObject({ name: "proxstack", backend: { url: `file://${path.join(dir, "data", "pulumi")}` } });
    await expect(runner.preview(target("alice"))).rejects.toMatchObject({ code: "pulumi.cli-missing" });
    expect(text()).not.toContain(TOKEN);
  });
});
