import { describe, expect, it } from "vitest";
import { allocateAddress, ipInSpan, poolSpan, vpnNetwork } from "./addressing.js";

describe("VPN addressing", () => {
  it.each([
    ["10.99.0.0/24", "10.99.0.1", 24],
    ["10.99.0.0/30", "10.99.0.1", 30],
    ["172.16.0.0/12", "172.16.0.1", 12],
  ])("puts the server of %s at its first host", (subnet, server, prefix) => {
    expect(vpnNetwork(subnet)).toMatchObject({ serverAddress: server, prefix });
  });

  it.each([
    ["10.99.0.0", /CIDR/],
    ["10.99.0.0/31", /\/8 to \/30/],
    ["10.99.0.5/24", /host bits set; did you mean 10\.99\.0\.0\/24/],
    ["300.1.1.1/24", /CIDR/],
  ])("refuses the subnet %s", (subnet, msg) => {
    expect(() => vpnNetwork(subnet)).toThrow(msg);
  });

  it("allocates the lowest free client address, skipping the server, and none when full", () => {
    const net = vpnNetwork("10.99.0.0/29");
    expect(allocateAddress(net, [])).toBe("10.99.0.2");
    expect(allocateAddress(net, ["10.99.0.2", "10.99.0.4"])).toBe("10.99.0.3");
    const all = ["10.99.0.2", "10.99.0.3", "10.99.0.4", "10.99.0.5", "10.99.0.6"];
    expect(allocateAddress(net, all)).toBeUndefined();
    expect(allocateAddress(net, all.slice(1))).toBe("10.99.0.2");
  });

  it("checks targets against the container pool", () => {
    const pool = poolSpan("10.10.0.0/24");
    expect(ipInSpan("10.10.0.21", pool)).toBe(true);
    expect(ipInSpan("10.10.1.21", pool)).toBe(false);
    expect(() => poolSpan("10.10.0.0/33")).toThrow(/CIDR/);
  });
});
