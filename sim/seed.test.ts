// simulatorSeedFromPlatform: the example platform file becomes the simulators' starting state.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PlatformSpecSchema } from "../schemas/index.js";
import { simulatorSeedFromPlatform } from "./seed.js";

describe("simulatorSeedFromPlatform", () => {
  it("seeds node, template container, OS template and Cloudflare ids from stacks/platform.yaml", () => {
    const platform = PlatformSpecSchema.parse(parse(readFileSync(new URL("../stacks/platform.yaml", import.meta.url), "utf8")));
    const seed = simulatorSeedFromPlatform(platform);
    expect(seed.proxmox.nodes).toEqual(platform.proxmox.nodes);
    expect(seed.proxmox.templates).toContainEqual({ vmid: 9000 });
    expect(seed.proxmox.osTemplates).toContain("local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst");
    expect(seed.proxmox.storages).toEqual(expect.arrayContaining(["local", platform.proxmox.datastore]));
    expect(seed.cloudflare.zones).toEqual([{ id: platform.cloudflare.zoneId, name: platform.baseDomain, accountId: platform.cloudflare.accountId }]);
    expect(seed.cloudflare.tunnels[0]?.id).toBe(platform.cloudflare.tunnelId);
  });
});
