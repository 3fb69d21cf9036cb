import { describe, expect, it } from "vitest";
import { ProxstackError, type ErrorKind } from "../lib/errors.js";
import { silentLogger } from "../lib/logger.js";
import { poolSpan, vpnNetwork } from "./addressing.js";
import { createCommandRunner } from "./command-runner.js";
import { createNftFirewall } from "./firewall.js";
import { publicKeyOf } from "./keys.js";
import { openPeerStore } from "./peer-store.js";
import { startVpnService } from "./server.js";
import { createWgDevice } from "./wg-device.js";
import { createMemoryDevice, createMemoryFirewall } from "./testing/memory-device.js";

/** What a throw site of vpn/ produced: every error there is a ProxstackError with a code and a kind. */
async function caught(f: () => unknown): Promise<{ code: string; kind: ErrorKind } | string> {
  try {
    await f();
  } catch (err) {
    return err instanceof ProxstackError ? { code: err.code, kind: err.kind } : `plain ${String(err)}`;
  }
  return "no error";
}

describe("errors of vpn/ carry a code and a kind", () => {
  const runner = createCommandRunner();
  it.each<[string, () => unknown, string, ErrorKind]>([
    ["a subnet that is not CIDR", () => vpnNetwork("10.99.0.0"), "vpn-subnet-invalid", "stall"],
    ["a subnet prefix too long", () => vpnNetwork("10.99.0.0/31"), "vpn-subnet-invalid", "stall"],
    ["a subnet with host bits", () => vpnNetwork("10.99.0.5/24"), "vpn-subnet-invalid", "stall"],
    ["a pool that is not CIDR", () => poolSpan("10.10.0.0/33"), "vpn-pool-invalid", "stall"],
    ["a private key that is not one", () => publicKeyOf("abc"), "wg-key-invalid", "stall"],
    [
      "an interface name too long",
      () =>
        createWgDevice({ runner, iface: "a-very-long-interface", privateKey: "", keyFile: "", listenPort: 1, address: "", dataDir: "", log: silentLogger() }),
      "wg-iface-invalid",
      "stall",
    ],
    [
      "a table name with a dash",
      () => createNftFirewall({ runner, iface: "wg0", serverAddress: "10.99.0.1", table: "bad-name", log: silentLogger() }),
      "nft-table-invalid",
      "stall",
    ],
    [
      "an endpoint without a port",
      () =>
        startVpnService({
          dataDir: "/nonexistent",
          token: "t",
          endpoint: "vpn.example.com",
          log: silentLogger(),
          device: createMemoryDevice(),
          firewall: createMemoryFirewall(),
        }),
      "vpn-endpoint-invalid",
      "stall",
    ],
  ])("%s", async (_what, f, code, kind) => {
    expect(await caught(f)).toEqual({ code, kind });
  });

  it("a corrupt stored row", async () => {
    const store = openPeerStore(":memory:");
    store.upsert({ owner: "alice", address: "10.99.0.2", publicKey: "k", targets: ["not-an-ip"], createdAt: "", updatedAt: "" });
    expect(await caught(() => store.list())).toEqual({ code: "vpn-store-corrupt", kind: "bug" });
    store.close();
  });
});
