// shouldSimulate: simulators start only for services without a real endpoint.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../schemas/config.js";
import { providersOf, shouldSimulate } from "./should-simulate.js";

describe("shouldSimulate", () => {
  it("simulates both when nothing real is configured", () => {
    expect(shouldSimulate(loadConfig({}, "/tmp"))).toEqual({ pve: true, cloudflare: true });
  });
  it("never simulates Proxmox when a real endpoint is configured", () => {
    const config = loadConfig({ PROXMOX_VE_ENDPOINT: "https://pve.example.com:8006", PROXMOX_VE_API_TOKEN: "root@pam!ci=abc" }, "/tmp");
    expect(shouldSimulate(config)).toEqual({ pve: false, cloudflare: true });
  });
  it("never simulates Cloudflare when a real token is configured", () => {
    expect(shouldSimulate(loadConfig({ CLOUDFLARE_API_TOKEN: "x".repeat(40) }, "/tmp"))).toEqual({ pve: true, cloudflare: false });
  });
  it("simulates neither when both are real", () => {
    const config = loadConfig({ PROXMOX_VE_ENDPOINT: "https://pve:8006", PROXMOX_VE_API_TOKEN: "a@pve!b=c", CLOUDFLARE_API_TOKEN: "t" }, "/tmp");
    expect(shouldSimulate(config)).toEqual({ pve: false, cloudflare: false });
  });
  it("words the same rule per provider for people", () => {
    expect(providersOf(loadConfig({ CLOUDFLARE_API_TOKEN: "t" }, "/tmp"))).toEqual({ proxmox: "simulated", cloudflare: "real" });
    expect(providersOf(loadConfig({ PROXMOX_VE_ENDPOINT: "https://pve:8006", PROXMOX_VE_API_TOKEN: "a@pve!b=c" }, "/tmp"))).toEqual({
      proxmox: "real",
      cloudflare: "simulated",
    });
  });
});
