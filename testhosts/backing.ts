// The simulator's "real containers" mode: each running simulated container is an SSH test host at the container's address.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../lib/logger.js";
import { createKeyedGate } from "../lib/serial-gate.js";
import type { ContainerBacking } from "../sim/backing.js";
import { createSshTestHost, type SshTestHost } from "./ssh-host.js";

export interface SshHostBackingOptions {
  /** Keys root accepts in every container: the provisioning key, as the Pulumi program injects it. */
  rootAuthorizedKeys: string[];
  /** Where each container's disk (overlay layers) lives between stop and start: `<stateDir>/<vmid>`. */
  stateDir: string;
  /**
   * The root-namespace end of every container's point-to-point link; shared, so containers can
   * take neighbouring addresses from the platform pool. @default 169.254.231.1
   */
  peerAddress?: string;
  log?: Logger;
}

export interface SshHostBacking extends ContainerBacking {
  /** The running host of a container, if any. */
  host(vmid: number): SshTestHost | undefined;
  /** Stops every host (their disks stay in stateDir). */
  close(): Promise<void>;
}

/** A ContainerBacking that runs Debian's sshd in a namespace per container, with a fresh template's sshd configuration. */
export function createSshHostBacking(opts: SshHostBackingOptions): SshHostBacking {
  const hosts = new Map<number, SshTestHost>();
  // Operations on one container run one after another; different containers proceed in parallel.
  const gate = createKeyedGate();
  const serial = <T>(vmid: number, fn: () => Promise<T>): Promise<T> => gate(String(vmid), fn);
  const stopHost = async (vmid: number) => {
    const h = hosts.get(vmid);
    hosts.delete(vmid);
    await h?.destroy();
  };
  return {
    start: ({ vmid, ip, hostname }) =>
      serial(vmid, async () => {
        const running = hosts.get(vmid);
        if (running?.address === ip) return;
        await stopHost(vmid);
        const h = await createSshTestHost({
          address: ip,
          peerAddress: opts.peerAddress ?? "169.254.231.1",
          pointToPoint: true,
          rootAuthorizedKeys: opts.rootAuthorizedKeys,
          sshdDropIns: {},
          hostname,
          persistDir: join(opts.stateDir, String(vmid)),
        });
        hosts.set(vmid, h);
        opts.log?.info({ vmid, ip, netns: h.netns.name }, "container backed by an sshd test host");
      }),
    stop: (vmid) => serial(vmid, () => stopHost(vmid)),
    destroy: (vmid) =>
      serial(vmid, async () => {
        await stopHost(vmid);
        await rm(join(opts.stateDir, String(vmid)), { recursive: true, force: true });
      }),
    host: (vmid) => hosts.get(vmid),
    async close() {
      await Promise.all([...hosts.keys()].map((vmid) => serial(vmid, () => stopHost(vmid))));
    },
  };
}
