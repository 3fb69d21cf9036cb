import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../lib/logger.js";
import { UserStackSpecSchema, type UserStackSpec } from "../schemas/index.js";
import { createVpnClient, type VpnClient } from "./client.js";
import { createMemoryDevice, createMemoryFirewall } from "./testing/memory-device.js";
import { createVpnPeerAddresses } from "./peer-addresses.js";
import { startVpnService, type VpnServer } from "./server.js";

const spec = (name: string, ips: (string | undefined)[]): UserStackSpec =>
  UserStackSpecSchema.parse({
    apiVersion: "proxstack.dev/v1",
    kind: "UserStack",
    name,
    owner: { email: `${name}@example.com` },
    linuxUser: name,
    sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKInZte4N4jzWW5jRTjyVW2dB3e0ryh5PFdf4g4KQ/Pn x"],
    instances: ips.map((ip, n) => ({ name: `i${n}`, template: "debian-12", plan: "small", ...(ip ? { ip } : {}) })),
  });

describe("VPN peer addresses for the firewall (service with in-memory device)", () => {
  const dir = mkdtempSync(join(tmpdir(), "pxs-peeraddr-"));
  let server: VpnServer;
  let vpn: VpnClient;
  beforeAll(async () => {
    const token = "peer-address-test-token-000";
    server = await startVpnService({
      dataDir: dir,
      token,
      endpoint: "vpn.example.com:51820",
      subnet: "10.99.0.0/24",
      pool: "10.10.0.0/24",
      log: silentLogger(),
      device: createMemoryDevice(),
      firewall: createMemoryFirewall(),
    });
    vpn = createVpnClient({ url: server.url, token });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the peer on first need with the spec's addresses, then returns the same address", async () => {
    const addresses = createVpnPeerAddresses(vpn);
    const first = await addresses(spec("erin", ["10.10.0.40", undefined]));
    expect(first).toHaveLength(1);
    expect(first[0]).toMatch(/^10\.99\.0\.\d+$/);
    expect((await vpn.getPeer("erin"))?.targets).toEqual(["10.10.0.40"]);
    expect(await addresses(spec("erin", ["10.10.0.40", "10.10.0.41"]))).toEqual(first);
  });

  it("creates no peer for a user without allocated containers", async () => {
    expect(await createVpnPeerAddresses(vpn)(spec("frank", [undefined]))).toEqual([]);
    expect(await vpn.getPeer("frank")).toBeUndefined();
  });
});
