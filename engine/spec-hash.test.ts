import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { PlatformSpecSchema, UserStackSpecSchema } from "../schemas/index.js";
import { canonicalJson, platformStackHash, userStackHash } from "./spec-hash.js";

const load = (f: string): unknown => parse(readFileSync(new URL(`../stacks/${f}`, import.meta.url), "utf8"));
const platform = PlatformSpecSchema.parse(load("platform.yaml"));
const alice = UserStackSpecSchema.parse(load("alice.yaml"));
const bob = UserStackSpecSchema.parse(load("bob.yaml"));

describe("desired-state hash", () => {
  it("ignores key order and undefined", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
  });

  it("is stable for the same spec and changes with any field", () => {
    const h = userStackHash(alice, platform);
    expect(userStackHash(structuredClone(alice), platform)).toBe(h);
    const edited = structuredClone(alice);
    edited.instances[1]!.power = "running";
    expect(userStackHash(edited, platform)).not.toBe(h);
    const plat = structuredClone(platform);
    plat.plans.small!.cores = 2;
    expect(userStackHash(alice, plat)).not.toBe(h);
  });

  it("platform hash covers every user's routes but not other fields", () => {
    const h = platformStackHash(platform, [alice, bob]);
    expect(platformStackHash(platform, [bob, alice])).toBe(h);
    const noRoute = structuredClone(alice);
    noRoute.instances[1]!.plan = "large";
    expect(platformStackHash(platform, [noRoute, bob])).toBe(h);
    const newDomain = structuredClone(alice);
    newDomain.instances[1]!.domains.push({ subdomain: "x", port: 1 });
    expect(platformStackHash(platform, [newDomain, bob])).not.toBe(h);
    const newIp = structuredClone(bob);
    newIp.instances[0]!.ip = "10.10.0.99";
    expect(platformStackHash(platform, [alice, newIp])).not.toBe(h);
  });
});
