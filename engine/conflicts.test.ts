// Conflicts across stacks, as the engine sees them: the shared validator with positions, blame on the file that
// introduced the conflict, and values held by live resources that no longer have a claiming file.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Engine } from "./engine.js";
import { engineOnFake, tempStacks, waitFor } from "./testing/engine-test-support.js";
import { FAKE_TUNNEL_TYPE } from "./testing/fake-runner.js";

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function started() {
  const dir = tempStacks();
  const { engine, runner } = engineOnFake(dir.stacks, join(dir.root, "status.db"));
  cleanups.push(
    () => dir.cleanup(),
    async () => {
      await engine.stop();
      engine.store.close();
    },
  );
  await engine.start();
  await waitFor(() => ["alice", "bob", "carol", "platform"].every((s) => engine.store.getStack(s)?.reason === "Applied"), "first convergence");
  await engine.idle();
  return { dir, engine, runner };
}

/** Carol's file as a new user `name` whose one instance is `instance`, with extra lines on it. */
const userFile = (carol: string, name: string, instance: string, extra: string[]) =>
  carol
    .replace("name: carol", `name: ${name}`)
    .replace("email: carol@example.com", `email: ${name}@example.com`)
    .replace("- name: lab", `- name: ${instance}`)
    .replace(/\n\s+vmid: \d+/, "")
    .replace(/\n\s+ip: [\d.]+/, "") + extra.map((l) => `    ${l}\n`).join("");

const state = (e: Engine, s: string) => e.store.getStack(s);

describe("engine conflicts through the shared validator", () => {
  it("a hostname taken by a second file stalls only that file; the platform stays Ready and keeps the first owner's route", async () => {
    const { dir, engine, runner } = await started();
    dir.write("ann", userFile(dir.read("carol"), "ann", "x", ["domains: [{ subdomain: lab-y, port: 80 }]"]));
    await waitFor(() => state(engine, "ann")?.reason === "Applied", "ann applied");
    const annIp = engine.store.listInstances("ann")[0]?.ip;
    expect(annIp).toMatch(/^10\.10\.0\.\d+$/);
    const route = () =>
      runner
        .resources("platform")
        .filter((r) => r.type === FAKE_TUNNEL_TYPE)
        .flatMap((r) => r.inputs.ingress as { hostname: string; service: string }[])
        .filter((i) => i.hostname === "ann-x-lab-y.example.com");
    await waitFor(() => route().length === 1, "ann's route on the tunnel");
    await engine.idle();

    // ann-x / lab / y spells the same hostname as ann / x / lab-y.
    dir.write("ann-x", userFile(dir.read("carol"), "ann-x", "lab", ["domains: [{ subdomain: y, port: 80 }]"]));
    await waitFor(() => state(engine, "ann-x")?.reason === "InvalidSpec", "ann-x refused");
    await engine.idle();
    expect(state(engine, "ann-x")).toMatchObject({ condition: "Stalled" });
    expect(state(engine, "ann-x")?.message).toMatch(
      /ann-x\.yaml:\d+:\d+: hostname ann-x-lab-y\.example\.com is already held by stack ann; a hostname routes to one instance across all stacks/,
    );
    expect(state(engine, "ann")).toMatchObject({ condition: "Ready", reason: "Applied" });
    expect(state(engine, "platform")).toMatchObject({ condition: "Ready", reason: "Applied" });
    expect(route()).toEqual([{ hostname: "ann-x-lab-y.example.com", service: `http://${annIp}:80` }]);
    expect(runner.resources("ann-x")).toEqual([]);

    // The first owner lets the name go: the newcomer is valid without touching its own file.
    dir.write("ann", dir.read("ann").replace("subdomain: lab-y", "subdomain: other"));
    await waitFor(() => state(engine, "ann-x")?.reason === "Applied", "ann-x applied once the name is free");
  });

  it("an address held by a container whose file is gone cannot be written into another file", async () => {
    const { dir, engine } = await started();
    // alice/web (10.10.0.21) is protected: removing the file leaves the container running.
    rmSync(join(dir.stacks, "alice.yaml"));
    await waitFor(() => engine.index.get("alice") === undefined, "alice's file gone from the index");
    expect(engine.store.listInstances("alice").map((i) => i.ip)).toContain("10.10.0.21");
    dir.write("zed", userFile(dir.read("carol"), "zed", "lab", ["vmid: 2100", "ip: 10.10.0.21"]));
    await waitFor(() => state(engine, "zed")?.reason === "InvalidSpec", "zed refused");
    expect(state(engine, "zed")?.message).toMatch(
      /zed\.yaml:\d+:\d+: ip 10\.10\.0\.21 is already held by stack alice; an address belongs to one instance across all stacks/,
    );
  });
});
