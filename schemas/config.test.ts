import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ProxstackError } from "../lib/errors.js";
import { ConfigError, loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("defaults to simulation with everything under ./data", () => {
    const c = loadConfig({}, "/srv/app");
    expect(c.dataDir).toBe("/srv/app/data");
    expect(c.stacksDir).toBe("/srv/app/data/stacks");
    expect(c.port).toBe(8080);
    expect(c.proxmox).toBeUndefined();
    expect(c.cloudflare).toBeUndefined();
    expect(c.pulumi.backendUrl).toBe("file:///srv/app/data/pulumi");
    expect(c.pulumi.passphraseFile).toBe("/srv/app/data/pulumi-passphrase");
    expect(c.logLevel).toBe("info");
    expect(c.vpnToken).toBeUndefined();
    expect(c.cloudflareApiUrl).toBeUndefined();
    expect(c.stacksDirSet).toBe(false);
  });

  it("reads LOG_LEVEL, CLOUDFLARE_API_URL and PROXSTACK_STACKS_DIR", () => {
    const c = loadConfig({ LOG_LEVEL: "debug", CLOUDFLARE_API_URL: "http://127.0.0.1:9/client/v4", PROXSTACK_STACKS_DIR: "repo" }, "/x");
    expect(c.logLevel).toBe("debug");
    expect(c.cloudflareApiUrl).toBe("http://127.0.0.1:9/client/v4");
    expect(c.cloudflare).toBeUndefined();
    expect(c.stacksDir).toBe("/x/repo");
    expect(c.stacksDirSet).toBe(true);
  });

  it("reads the VPN token from VPN_TOKEN_FILE, relative to the working directory", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "config-"));
    try {
      writeFileSync(path.join(dir, "vpn-token"), "file-token-0123456789\n");
      writeFileSync(path.join(dir, "short"), "short\n");
      const c = loadConfig({ VPN_TOKEN_FILE: "vpn-token", VPN_URL: "http://127.0.0.1:8091" }, dir);
      expect(c.vpnToken).toBe("file-token-0123456789");
      expect(c.vpn).toEqual({ url: "http://127.0.0.1:8091", token: "file-token-0123456789" });
      expect(() => loadConfig({ VPN_TOKEN_FILE: "short" }, dir)).toThrow(/VPN_TOKEN_FILE: .*short must hold a token of at least 16 characters/);
      expect(() => loadConfig({ VPN_TOKEN_FILE: "missing" }, dir)).toThrow(/VPN_TOKEN_FILE: cannot read .*missing: ENOENT/);
      expect(() => loadConfig({ VPN_TOKEN_FILE: "vpn-token", VPN_TOKEN: "x".repeat(20) }, dir)).toThrow(/VPN_TOKEN or VPN_TOKEN_FILE, not both/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads real endpoints when both are set", () => {
    const c = loadConfig({ PROXMOX_VE_ENDPOINT: "https://pve.example.com:8006/", PROXMOX_VE_API_TOKEN: "u@pve!t=s3cret", PORT: "9000" }, "/x");
    expect(c.proxmox).toEqual({ endpoint: "https://pve.example.com:8006/", token: "u@pve!t=s3cret", insecure: false });
    expect(c.port).toBe(9000);
  });

  it.each([
    [{ PORT: "eighty" }, /PORT/],
    [{ PORT: "70000" }, /PORT/],
    [{ PROXMOX_VE_ENDPOINT: "https://pve:8006" }, /both PROXMOX_VE_ENDPOINT and PROXMOX_VE_API_TOKEN/],
    [{ PROXMOX_VE_ENDPOINT: "https://pve:8006", PROXMOX_VE_API_TOKEN: "nope" }, /PROXMOX_VE_API_TOKEN: must look like USER@REALM!TOKENID=SECRET/],
    [{ VPN_URL: "http://127.0.0.1:1" }, /VPN_TOKEN/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL/],
  ])("refuses %j naming the variable", (env, re) => {
    expect(() => loadConfig(env, "/x")).toThrow(ConfigError);
    expect(() => loadConfig(env, "/x")).toThrow(ProxstackError);
    expect(() => loadConfig(env, "/x")).toThrow(re);
  });
});
