// Builds the inline program of a StackTarget from the programs/ functions: the one program both runners (and the CLI) run.
import type { CloudflareProviderSettings, ProxmoxProviderSettings } from "../programs/providers.js";
import { platformStackProgram } from "../programs/platform-stack.js";
import { userStackProgram } from "../programs/user-stack.js";
import type { UserStackSpec } from "../schemas/index.js";
import type { StackTarget } from "./runner.js";

/** Everything a program needs beyond the target itself; provider tokens stay in memory (secret in state). */
export interface ProgramSettings {
  proxmox: ProxmoxProviderSettings;
  cloudflare: CloudflareProviderSettings;
  /** OpenSSH public key of the platform's provisioning key. */
  provisioningPublicKey: string;
  /** The user's WireGuard peer addresses (vpn/peer-addresses.ts); none when absent. */
  vpnPeerAddresses?: (spec: UserStackSpec) => Promise<string[]>;
}

/** The program of one target; it returns the stack outputs (UserStackOutputs or PlatformStackOutputs). */
export function programFor(target: StackTarget, s: ProgramSettings): () => Promise<Record<string, unknown>> {
  if (target.kind === "platform") {
    return async () => ({ ...(await platformStackProgram({ platform: target.platform, users: target.users, cloudflare: s.cloudflare })) });
  }
  return async () => {
    const vpnPeerAddresses = s.vpnPeerAddresses ? await s.vpnPeerAddresses(target.spec) : [];
    return {
      ...(await userStackProgram({
        spec: target.spec,
        platform: target.platform,
        proxmox: s.proxmox,
        provisioningPublicKey: s.provisioningPublicKey,
        vpnPeerAddresses,
      })),
    };
  };
}

/** The program destroy runs: no resources, so everything in state is deleted. */
export const emptyProgram = (): Promise<Record<string, unknown>> => Promise.resolve({});
