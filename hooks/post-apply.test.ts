import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ProxstackError } from "../lib/errors.js";
import { silentLogger } from "../lib/logger.js";
import type { PlatformSpec, UserStackSpec } from "../schemas/index.js";
import { skipUnless } from "../test/loud-skip.js";
import { canRunSshTestHosts, createSshTestHost, type SshTestHost } from "../testhosts/ssh-host.js";
import { tryLogin } from "../testhosts/ssh-login.js";
import type { HookContext } from "./hook.js";
import { createPostApplyHooks, type PostApplyHooksHandle } from "./post-apply.js";
import { ensureProvisioningKey } from "../ssh/provisioning-key.js";

const skip = skipUnless(await canRunSshTestHosts(), "post-apply hooks against real sshd");

describe.skipIf(skip)("post-apply hooks as the engine calls them", () => {
  let dir = "";
  let host: SshTestHost;
  let hooks: PostApplyHooksHandle;
  const seen: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pxs-postapply-"));
    const { publicKey } = await ensureProvisioningKey(dir);
    host = await createSshTestHost({ rootAuthorizedKeys: [publicKey] });
    hooks = await createPostApplyHooks({
      dataDir: dir,
      log: silentLogger(),
      extra: [
        {
          handler: {
            type: "vpn-peer",
            params: z.object({}).strict(),
            timeoutMs: 1000,
            run: async (ctx) => {
              seen.push(ctx.stack);
              throw new Error("vpn service unreachable");
            },
          },
          data: { type: "vpn-peer", params: {} },
        },
      ],
    });
  });
  afterAll(async () => {
    hooks?.close();
    await host?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it("hardens the applied instance, records each hook, and converges on the retry", async () => {
    const ctx: HookContext = {
      stack: "alice",
      spec: { linuxUser: "alice", sshKeys: [hooks.identity.publicKey] } as unknown as UserStackSpec,
      platform: {} as PlatformSpec,
      instances: [{ name: "web", vmid: 2001, ip: host.address, power: "running", changed: true }],
      signal: new AbortController().signal,
      log: silentLogger(),
    };
    const first = await hooks.run(ctx);
    expect(first.map((r) => [r.type, r.status, r.changed])).toEqual([
      ["ssh-harden", "succeeded", true],
      ["vpn-peer", "failed", false],
    ]);
    expect(first[1]?.error?.reason).toBe("vpn service unreachable");
    expect(seen).toEqual(["alice"]);
    expect(await tryLogin({ host: host.address, port: host.port, username: "alice", privateKey: hooks.identity.privateKey, command: "id -un" })).toMatchObject({
      ok: true,
      stdout: "alice\n",
    });
    const retry = await hooks.run(ctx);
    expect(retry[0]).toMatchObject({ type: "ssh-harden", status: "succeeded", changed: false });
  });
});

describe("post-apply hooks after a destroy", () => {
  it("asks every hook that keeps something for the stack to drop it, and records a failure without rejecting", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pxs-postapply-destroyed-"));
    const seen: string[] = [];
    const handler = (type: string, fail: boolean) => ({
      type,
      params: z.object({}).strict(),
      timeoutMs: 1000,
      run: () => Promise.resolve({ changed: false, output: "" }),
      destroyed: (ctx: { stack: string }) => {
        seen.push(`${type}:${ctx.stack}`);
        return fail
          ? Promise.reject(new ProxstackError("vpn-unreachable", "vpn service down", { kind: "retry" }))
          : Promise.resolve({ changed: true, output: "peer removed" });
      },
    });
    const hooks = await createPostApplyHooks({
      dataDir: dir,
      log: silentLogger(),
      sshHarden: false,
      extra: [
        { handler: handler("vpn-peer", false), data: { type: "vpn-peer" } },
        { handler: handler("other", true), data: { type: "other" } },
      ],
    });
    try {
      const records = await hooks.destroyed("carol");
      expect(seen).toEqual(["vpn-peer:carol", "other:carol"]);
      expect(records.map((r) => [r.type, r.status, r.changed, r.output, r.error])).toEqual([
        ["vpn-peer", "succeeded", true, "peer removed", undefined],
        ["other", "failed", false, "", { code: "vpn-unreachable", kind: "retry", reason: "vpn service down" }],
      ]);
    } finally {
      hooks.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
