// Table tests of the naming module: hostnames, tunnel hostnames, logical names, tags.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as cloudflare from "@pulumi/cloudflare";
import { describe, expect, it } from "vitest";
import {
  assertLabelLength,
  containerTags,
  hostname,
  logicalName,
  parseUrn,
  RESOURCE_TYPE,
  resourceUrn,
  tunnelHostname,
  tunnelLabel,
  urnName,
} from "./naming.js";

/** The token a provider class registers its resources under (generated code keeps it as a static). */
const tokenOf = (cls: unknown): unknown => (cls as { __pulumiType?: unknown }).__pulumiType;

describe("naming", () => {
  it.each([
    ["alice", "web", "alice-web"],
    ["bob", "app", "bob-app"],
    ["a-b", "c", "a-b-c"],
  ])("hostname(%s, %s) = %s", (user, instance, expected) => {
    expect(hostname(user, instance)).toBe(expected);
  });

  it.each([
    ["alice", "web", "www", "example.com", "alice-web-www.example.com"],
    ["bob", "app", "app", "apps.example.org", "bob-app-app.apps.example.org"],
  ])("tunnelHostname(%s, %s, %s, %s) = %s", (user, instance, sub, base, expected) => {
    expect(tunnelHostname(user, instance, sub, base)).toBe(expected);
    expect(expected.startsWith(`${tunnelLabel(user, instance, sub)}.`)).toBe(true);
  });

  it("children's logical names start with their component's, so component aliases reach them", () => {
    const parent = logicalName.instance("alice", "web");
    for (const child of [logicalName.container, logicalName.firewallOptions, logicalName.firewallRules]) {
      expect(child("alice", "web").startsWith(`${parent}/`)).toBe(true);
    }
    expect(logicalName.dnsRecord("alice-web-www.example.com")).toBe("dns/alice-web-www.example.com");
  });

  it("tags are lower-case, sorted and name the user and instance", () => {
    expect(containerTags("alice", "web")).toEqual(["instance-web", "proxstack", "user-alice"]);
  });

  it.each([
    ["x".repeat(63), false],
    ["x".repeat(64), true],
  ])("assertLabelLength on %s chars", (label, throws) => {
    const run = () => assertLabelLength(label, "label");
    if (throws) expect(run).toThrow(expect.objectContaining({ code: "name-too-long", kind: "stall" }));
    else expect(run).not.toThrow();
  });

  it("resource type tokens are exactly those of the pinned provider SDKs", () => {
    expect(RESOURCE_TYPE.container).toBe(tokenOf(proxmox.ContainerLegacy));
    expect(RESOURCE_TYPE.firewallOptions).toBe(tokenOf(proxmox.firewall.OptionsLegacy));
    expect(RESOURCE_TYPE.firewallRules).toBe(tokenOf(proxmox.firewall.RulesLegacy));
    expect(RESOURCE_TYPE.tunnelConfig).toBe(tokenOf(cloudflare.ZeroTrustTunnelCloudflaredConfig));
    expect(RESOURCE_TYPE.dnsRecord).toBe(tokenOf(cloudflare.DnsRecord));
  });

  it.each([
    [
      resourceUrn("alice", RESOURCE_TYPE.dnsRecord, "dns/a.example.com"),
      { stack: "alice", project: "proxstack", type: RESOURCE_TYPE.dnsRecord, name: "dns/a.example.com" },
    ],
    [
      `urn:pulumi:alice::proxstack::proxstack:user:Instance$${RESOURCE_TYPE.container}::alice/web/container`,
      { stack: "alice", project: "proxstack", type: RESOURCE_TYPE.container, name: "alice/web/container" },
    ],
    ["urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", { stack: "s", project: "p", type: "pulumi:pulumi:Stack", name: "p-s" }],
    ["urn:pulumi:s::p::test:index:Thing::odd::name", { stack: "s", project: "p", type: "test:index:Thing", name: "odd::name" }],
  ])("parseUrn(%s)", (urn, parts) => {
    expect(parseUrn(urn)).toEqual(parts);
    expect(urnName(urn)).toBe(parts.name);
  });

  it("a string that is not a URN has no parts, and names itself", () => {
    expect(parseUrn("alice/web/container")).toBeUndefined();
    expect(urnName("alice/web/container")).toBe("alice/web/container");
  });
});
