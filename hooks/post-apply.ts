// The platform's post-deploy hooks wired together: provisioning key, host-key pins, registry, runner and the hook list.
import { join } from "node:path";
import { systemClock, type Clock } from "../lib/clock.js";
import { chainMessage, kindOf, ProxstackError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { HookContext, HookData, HookHandler, HookRunRecord } from "./hook.js";
import { createHostKeyStore, hostId, type HostKeyStore } from "../ssh/host-keys.js";
import { loadProvisioningIdentity, type SshIdentity } from "../ssh/provisioning-key.js";
import { createHookRegistry } from "./registry.js";
import { createHookRunner } from "./runner.js";
import { cleanRemoteText } from "../ssh/remote-text.js";
import { createSshHardenHandler, SSH_HARDEN } from "./ssh-harden.js";

export interface PostApplyHooksDeps {
  /** The data dir: `keys/provisioning_ed25519` and `host-keys.db` live there. */
  dataDir: string;
  log: Logger;
  clock?: Clock;
  /** More handlers (e.g. the VPN peer hook); their hook data is appended after ssh-harden. */
  extra?: { handler: HookHandler<any>; data: HookData }[];
  /**
   * Parameters of the ssh-harden hook, or false to leave it out (simulation without real
   * containers: nothing answers SSH there). @default {}
   */
  sshHarden?: { port?: number; onlyChanged?: boolean; readyTimeoutMs?: number } | false;
}

export interface PostApplyHooksHandle {
  /** What the engine calls after a successful apply (engine/reconciler.ts `PostApplyHooks`). */
  run(ctx: HookContext): Promise<HookRunRecord[]>;
  /** Drops the host-key pins of these container addresses (replaced or destroyed containers). */
  forgetHosts(ips: string[]): void;
  /**
   * After a successful destroy: each hook drops what it keeps for the stack (the VPN peer). Never
   * rejects; a failure is logged with what to do, and the records say how each hook ended.
   */
  destroyed(stack: string): Promise<HookRunRecord[]>;
  identity: SshIdentity;
  hostKeys: HostKeyStore;
  close(): void;
}

export async function createPostApplyHooks(deps: PostApplyHooksDeps): Promise<PostApplyHooksHandle> {
  const clock = deps.clock ?? systemClock;
  const identity = await loadProvisioningIdentity(deps.dataDir);
  const hostKeys = createHostKeyStore(join(deps.dataDir, "host-keys.db"), clock);
  const ssh = deps.sshHarden === false ? undefined : (deps.sshHarden ?? {});
  const { readyTimeoutMs, ...params } = ssh ?? {};
  const handlers = [
    ...(ssh ? [createSshHardenHandler({ identity, hostKeys, ...(readyTimeoutMs ? { readyTimeoutMs } : {}) })] : []),
    ...(deps.extra ?? []).map((e) => e.handler),
  ];
  const runner = createHookRunner({ handlers: createHookRegistry(handlers), log: deps.log, clock });
  const list: HookData[] = [...(ssh ? [{ type: SSH_HARDEN, params }] : []), ...(deps.extra ?? []).map((e) => e.data)];
  return {
    run: (ctx) => runner.run(ctx, list),
    destroyed: async (stack) => {
      const records: HookRunRecord[] = [];
      for (const h of handlers) {
        if (!h.destroyed) continue;
        const started = clock.now();
        const log = deps.log.child({ stack, hook: h.type });
        let r: Pick<HookRunRecord, "status" | "changed" | "output" | "error">;
        try {
          const out = await h.destroyed({ stack, signal: AbortSignal.timeout(h.timeoutMs), log });
          r = { status: "succeeded", changed: out.changed, output: cleanRemoteText(out.output) };
          log.info({ changed: out.changed }, "hook cleaned up after a destroy");
        } catch (err) {
          const reason = cleanRemoteText(chainMessage(err));
          r = {
            status: "failed",
            changed: false,
            output: "",
            error: { code: err instanceof ProxstackError ? err.code : "hook-failed", kind: kindOf(err), reason },
          };
          log.error(
            { reason },
            `hook could not clean up after destroying ${stack}; remove what it left by hand (for the VPN: DELETE /peers/${stack} on the VPN service)`,
          );
        }
        const ended = clock.now();
        records.push({
          type: h.type,
          ...r,
          startedAt: started.toISOString(),
          finishedAt: ended.toISOString(),
          durationMs: ended.getTime() - started.getTime(),
        });
      }
      return records;
    },
    forgetHosts: (ips) => {
      for (const ip of ips) hostKeys.forget(hostId(ip, ssh?.port ?? 22));
    },
    identity,
    hostKeys,
    close: () => hostKeys.close(),
  };
}
