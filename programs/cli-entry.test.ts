// The Pulumi CLI entry under mocks: same registrations as the engine's direct call, refusal of invalid files, clear errors.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { runCliStack } from "./cli-entry.js";
import { PROJECT_NAME } from "./naming.js";
import { mockRun } from "../runners/simulation/mock-run.js";
import { platformStackProgram } from "./platform-stack.js";
import {
  CF_TOKEN,
  EXAMPLE_STACKS_DIR,
  PROVISIONING_KEY,
  PVE_TOKEN,
  byName,
  examplePlatform,
  exampleUser,
  inputDiff,
  resourceSet,
  userInput,
} from "./testing/test-support.js";
import { userStackProgram } from "./user-stack.js";

let root: string;
let dataDir: string;
let stacksDir: string;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PROXSTACK_DATA_DIR: dataDir,
    PROXMOX_VE_ENDPOINT: "https://pve.example.com:8006/",
    PROXMOX_VE_API_TOKEN: PVE_TOKEN,
    CLOUDFLARE_API_TOKEN: CF_TOKEN,
    ...extra,
  };
}

function cli(stack: string, e: Record<string, string | undefined> = env(), config: Record<string, string> = {}, secretConfigKeys: string[] = []) {
  return mockRun(() => runCliStack({ stack, env: e, cwd: root }), { stack, config, secretConfigKeys });
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "proxstack-cli-"));
  dataDir = path.join(root, "data");
  stacksDir = path.join(dataDir, "stacks");
  fs.mkdirSync(path.join(dataDir, "keys"), { recursive: true });
  fs.cpSync(EXAMPLE_STACKS_DIR, stacksDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, "keys", "provisioning_ed25519.pub"), `${PROVISIONING_KEY}\n`);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("CLI entry (pulumi up -s <stack>)", () => {
  it("a user stack declares exactly what the engine's direct call declares", async () => {
    const viaCli = await cli("alice", env(), { "proxstack:vpnPeerAddresses": JSON.stringify(["10.99.0.5"]) });
    const direct = await mockRun(() => userStackProgram(userInput(exampleUser("alice"), examplePlatform(), ["10.99.0.5"])), { stack: "alice" });
    expect(resourceSet(viaCli.registrations)).toEqual(resourceSet(direct.registrations));
    expect(inputDiff(viaCli.registrations, direct.registrations)).toEqual([]);
    expect(viaCli.outputs).toEqual(direct.outputs);
    expect(byName(viaCli.registrations, "proxmox").secretPaths).toEqual(["apiToken"]);
  });

  it("the platform stack aggregates every user file like the engine", async () => {
    const viaCli = await cli("platform");
    const direct = await mockRun(
      () =>
        platformStackProgram({
          platform: examplePlatform(),
          users: [exampleUser("alice"), exampleUser("bob"), exampleUser("carol")].map((u) =>
            u.name === "carol" ? { ...u, instances: u.instances.map(({ vmid: _v, ip: _i, ...r }) => r) } : u,
          ),
          cloudflare: { apiToken: CF_TOKEN },
        }),
      { stack: "platform" },
    );
    expect(inputDiff(viaCli.registrations, direct.registrations)).toEqual([]);
    expect(viaCli.outputs).toEqual(direct.outputs);
  });

  it("Pulumi config overrides the environment, and the token from config stays secret", async () => {
    const { registrations } = await cli("bob", env(), { "proxstack:proxmoxEndpoint": "https://other:8006/", "proxstack:proxmoxApiToken": "from-config" }, [
      "proxstack:proxmoxApiToken",
    ]);
    const provider = byName(registrations, "proxmox");
    expect(provider.inputs).toMatchObject({ endpoint: "https://other:8006/", apiToken: "from-config" });
    expect(provider.secretPaths).toEqual(["apiToken"]);
  });

  it("stalls on carol until the engine allocated her instance", async () => {
    await expect(cli("carol")).rejects.toMatchObject({ code: "allocation-missing", message: expect.stringContaining("carol/lab") });
  });

  it("refuses an invalid stack file with path:line:col, and an invalid user file blocks the platform stack", async () => {
    const bobFile = path.join(stacksDir, "bob.yaml");
    const original = fs.readFileSync(bobFile, "utf8");
    fs.writeFileSync(bobFile, original.replace("plan: small", "plan: small\n    power: maybe"));
    try {
      const err = await cli("bob").then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(/^refusing to run stack bob/);
      expect(err?.message).toMatch(/bob\.yaml:\d+:\d+: /);
      await expect(cli("platform")).rejects.toMatchObject({ code: "invalid-stack-file" });
      // alice's own file is valid: her stack still runs.
      expect((await cli("alice")).registrations.length).toBeGreaterThan(0);
    } finally {
      fs.writeFileSync(bobFile, original);
    }
  });

  it("says what to do when the Proxmox settings, the provisioning key or the file are missing", async () => {
    await expect(cli("alice", { PROXSTACK_DATA_DIR: dataDir })).rejects.toMatchObject({
      code: "proxmox-unconfigured",
      message: expect.stringContaining("PROXMOX_VE_ENDPOINT"),
    });
    await expect(cli("platform", { PROXSTACK_DATA_DIR: dataDir })).rejects.toMatchObject({ code: "cloudflare-unconfigured" });
    await expect(cli("nobody")).rejects.toMatchObject({ code: "stack-file-missing", message: expect.stringContaining("nobody.yaml") });
    const other = path.join(root, "other-data");
    fs.cpSync(stacksDir, path.join(other, "stacks"), { recursive: true });
    await expect(cli("alice", env({ PROXSTACK_DATA_DIR: other }))).rejects.toMatchObject({
      code: "provisioning-key-missing",
      message: expect.stringContaining("provisioning_ed25519.pub"),
    });
    await expect(cli("alice", env(), { "proxstack:vpnPeerAddresses": "10.99.0.5" })).rejects.toMatchObject({ code: "bad-config" });
  });

  it("programs/index.ts, Pulumi.yaml's main, has the entry as its only (default) export and reads the environment", async () => {
    const entry = await import("./index.js");
    expect(Object.keys(entry)).toEqual(["default"]);
    for (const [k, v] of Object.entries(env())) vi.stubEnv(k, v);
    try {
      const { outputs } = await mockRun(() => entry.default(), { stack: "bob" });
      expect(outputs).toMatchObject({ stack: "bob", suspended: true });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("Pulumi.yaml names the engine's project and points at this entry through tsx", () => {
    const project = parse(fs.readFileSync(path.join(import.meta.dirname, "..", "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
    expect(project).toMatchObject({
      name: PROJECT_NAME,
      main: "programs/index.ts",
      runtime: { name: "nodejs", options: { typescript: false, nodeargs: "--import tsx" } },
    });
    expect(fs.existsSync(path.join(import.meta.dirname, "..", String(project.main)))).toBe(true);
  });
});
