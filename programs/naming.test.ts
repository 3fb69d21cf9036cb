// Table tests of the naming module: hostnames, tunnel hostnames, logical names, tags.
import { describe, expect, it } from "vitest";
import { assertLabelLength, containerTags, hostname, logicalName, tunnelHostname, tunnelLabel } from "./naming.js";

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
});
