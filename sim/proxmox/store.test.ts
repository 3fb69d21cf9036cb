// The simulator's store: a request's writes are one transaction, so a container's lock never outlives a task that was never written.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openPveStore, type Container } from "./store.js";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const locked = (vmid: number): Container => ({
  vmid,
  node: "pve1",
  config: { hostname: `CT${vmid}`, lock: "create" },
  status: "stopped",
  runs: [],
  createdAt: 0,
  parent: undefined,
  firewallOptions: {},
  firewallRules: [],
});

describe("PveStore.atomic", () => {
  it("keeps a request's writes together: a failure after the lock leaves no locked container; a success keeps both", () => {
    dir = mkdtempSync(join(tmpdir(), "pve-store-"));
    const store = openPveStore(join(dir, "pve.db"));
    expect(() =>
      store.atomic(() => {
        store.putContainer(locked(2001));
        throw new Error("the process died before its task was written");
      }),
    ).toThrow("died");
    expect(store.getContainer(2001)).toBeUndefined();
    expect(store.atomic(() => (store.putContainer(locked(2002)), 2002))).toBe(2002);
    expect(store.getContainer(2002)?.config.lock).toBe("create");
    store.close();
  });
});
