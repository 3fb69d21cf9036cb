import { describe, expect, it } from "vitest";
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
  });

  it("reads real endpoints when both are set", () => {
    const c = loadConfig(
      { PROXMOX_VE_ENDPOINT: "https://pve.example.com:8006/", PROXMOX_VE_API_TOKEN: "u@pve!t=s3cret", PORT: "9000" },
      "/x",
    );
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
    expect(() => loadConfig(env, "/x")).toThrow(re);
  });
});
