// Table tests of the IPv4 helpers.
import { describe, expect, it } from "vitest";
import { inCidr, ipv4ToInt, prefixLength } from "./ipv4.js";

describe("ipv4", () => {
  it.each([
    ["0.0.0.0", 0],
    ["10.10.0.21", 168427541],
    ["255.255.255.255", 4294967295],
    ["256.0.0.1", undefined],
    ["10.0.0", undefined],
    ["10.0.0.1/24", undefined],
    ["a.b.c.d", undefined],
  ])("ipv4ToInt(%s) = %s", (ip, n) => expect(ipv4ToInt(ip)).toBe(n));

  it.each([
    ["10.10.0.0/24", 24],
    ["0.0.0.0/0", 0],
    ["10.0.0.1/32", 32],
    ["10.0.0.0/33", undefined],
    ["10.0.0.0", undefined],
    ["10.0.0.0/24/1", undefined],
  ])("prefixLength(%s) = %s", (cidr, n) => expect(prefixLength(cidr)).toBe(n));

  it.each([
    ["10.99.0.5", "10.99.0.0/24", true],
    ["10.99.1.5", "10.99.0.0/24", false],
    ["10.10.0.21", "10.10.0.0/16", true],
    ["10.11.0.21", "10.10.0.0/16", false],
    ["1.2.3.4", "0.0.0.0/0", true],
    ["10.99.0.0/24", "10.99.0.0/24", false],
  ])("inCidr(%s, %s) = %s", (ip, cidr, expected) => expect(inCidr(ip, cidr)).toBe(expected));
});
