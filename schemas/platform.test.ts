// The platform file's schema rules that are not plain shapes: operator routes on the tunnel (cloudflare.extraIngress).
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { validateStackSet } from "../stackfiles/validate.js";
import { PlatformSpecSchema } from "./platform.js";

const STACKS = path.join(import.meta.dirname, "..", "stacks");
const raw = (): Record<string, unknown> => parse(readFileSync(path.join(STACKS, "platform.yaml"), "utf8")) as Record<string, unknown>;
const withExtra = (extraIngress: unknown[]) => {
  const p = raw() as { cloudflare: Record<string, unknown> };
  return { ...p, cloudflare: { ...p.cloudflare, extraIngress } };
};
const issues = (data: unknown) => {
  const r = PlatformSpecSchema.safeParse(data);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("platform file: cloudflare.extraIngress", () => {
  it("defaults to no operator routes", () => {
    expect(PlatformSpecSchema.parse(raw()).cloudflare.extraIngress).toEqual([]);
  });

  it("accepts routes of cloudflared's service shapes, with dns on by default", () => {
    const p = PlatformSpecSchema.parse(
      withExtra([
        { hostname: "portal.example.com", service: "http://10.10.0.2:8080" },
        { hostname: "pve.example.com", service: "https://10.10.0.5:8006", dns: false },
        { hostname: "ssh.example.com", service: "ssh://10.10.0.2:22" },
        { hostname: "portal.example.com", path: "^/status$", service: "http_status:204" },
      ]),
    );
    expect(p.cloudflare.extraIngress.map((r) => r.dns)).toEqual([true, false, true, true]);
  });

  it.each([
    [{ hostname: "portal.example.com", service: "10.10.0.2:8080" }, "cloudflare.extraIngress.0.service: must be a cloudflared service"],
    [{ hostname: "portal.example.com", service: "http://10.10.0.2:8080 extra" }, "cloudflare.extraIngress.0.service: must be a cloudflared service"],
    [{ hostname: "Portal_Example", service: "http://10.10.0.2:8080" }, "cloudflare.extraIngress.0.hostname: must be a domain name"],
    [{ service: "http://10.10.0.2:8080" }, "cloudflare.extraIngress.0.hostname:"],
    [{ hostname: "portal.example.com", service: "http://x:1", originRequest: {} }, "cloudflare.extraIngress.0: Unrecognized key"],
  ])("refuses %j", (rule, message) => {
    expect(issues(withExtra([rule])).join("\n")).toContain(message);
  });

  it("refuses the same hostname and path twice (the second rule would never match)", () => {
    expect(
      issues(
        withExtra([
          { hostname: "portal.example.com", service: "http://10.10.0.2:8080" },
          { hostname: "portal.example.com", service: "http://10.10.0.2:9090" },
        ]),
      ),
    ).toEqual(["cloudflare.extraIngress.1.hostname: repeats extraIngress[0] (portal.example.com): a later rule for the same hostname and path never matches"]);
  });

  it("a user domain that is an operator route is refused in the user's file", () => {
    const platform = stringify(withExtra([{ hostname: "alice-web-www.example.com", service: "http://10.10.0.2:8080" }]));
    const report = validateStackSet([
      { path: "platform.yaml", text: platform },
      { path: "alice.yaml", text: readFileSync(path.join(STACKS, "alice.yaml"), "utf8") },
    ]);
    expect(report.errors.map((e) => `${e.path} ${e.code}: ${e.message}`)).toEqual([
      "alice.yaml set.hostname-reserved: instances[0].domains[0].subdomain makes the hostname alice-web-www.example.com, an operator route of the platform (cloudflare.extraIngress); choose another subdomain",
    ]);
  });
});

describe("platform file: template disk size against plans", () => {
  const withTemplateDisk = (diskGiB: number) => {
    const p = raw() as { templates: Record<string, { clone?: Record<string, unknown> }> };
    return { ...p, templates: { ...p.templates, "debian-12": { ...p.templates["debian-12"], clone: { ...p.templates["debian-12"]?.clone, diskGiB } } } };
  };
  const validate = (platform: unknown, user: string) =>
    validateStackSet([
      { path: "platform.yaml", text: stringify(platform) },
      { path: "alice.yaml", text: readFileSync(path.join(STACKS, "alice.yaml"), "utf8").replace(/plan: \w+/, `plan: ${user}`) },
    ]).errors.map((e) => `${e.path} ${e.code}: ${e.message}`);

  it("a clone template may say its disk size", () => {
    expect(PlatformSpecSchema.parse(withTemplateDisk(8)).templates["debian-12"]).toMatchObject({ clone: { vmid: 9000, diskGiB: 8 } });
  });

  it("refuses an instance whose plan's disk is smaller than its template's, and accepts an equal one", () => {
    expect(validate(withTemplateDisk(10), "small")).toEqual([
      'alice.yaml set.template-disk-too-big: instances[0].plan "small" has a 8 GiB disk, smaller than template "debian-12" (10 GiB); a clone cannot shrink, so choose a plan with at least 10 GiB',
    ]);
    expect(validate(withTemplateDisk(8), "small")).toEqual([]);
    expect(validate(withTemplateDisk(10), "medium")).toEqual([]);
  });
});
