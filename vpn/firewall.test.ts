import { describe, expect, it } from "vitest";
import { renderRuleset } from "./firewall.js";

const opts = { table: "proxstack_vpn", iface: "wg-proxstack", serverAddress: "10.99.0.1" };

describe("nftables ruleset", () => {
  it("is one transaction that recreates the table with one pair per peer and container", () => {
    const r = renderRuleset(opts, [
      { address: "10.99.0.2", targets: ["10.10.0.21", "10.10.0.22"] },
      { address: "10.99.0.3", targets: [] },
      { address: "10.99.0.4", targets: ["10.10.0.30"] },
    ]);
    const lines = r.split("\n");
    expect(lines.slice(0, 3)).toEqual(["table inet proxstack_vpn", "delete table inet proxstack_vpn", "table inet proxstack_vpn {"]);
    expect(r.match(/^\s+10\.99\.0\.\d+ \. 10\.10\.0\.\d+,?$/gm)?.map((s) => s.trim().replace(/,$/, ""))).toEqual([
      "10.99.0.2 . 10.10.0.21",
      "10.99.0.2 . 10.10.0.22",
      "10.99.0.4 . 10.10.0.30",
    ]);
    expect(r).toContain('iifname "wg-proxstack" ip saddr . ip daddr @peer_targets accept');
    // Everything else from a peer is refused: other peers, other containers, the server's other addresses.
    expect(r).toMatch(
      /iifname "wg-proxstack" counter reject[^\n]*\n\s+oifname "wg-proxstack" ct state established,related accept\n\s+oifname "wg-proxstack" counter reject/,
    );
    expect(r).not.toContain("@ports");
  });

  it("leaves the set empty without peers, and limits ports when the platform names them", () => {
    const r = renderRuleset({ ...opts, allowedPorts: [80, 22, 22] }, []);
    expect(r).not.toContain("elements = {\n");
    expect(r).toContain("elements = { 22, 80 }");
    expect(r).toContain("th dport @ports accept");
  });
});
