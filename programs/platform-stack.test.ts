// The platform-stack program under Pulumi's mock runtime: ingress order and catch-all, CNAMEs, collisions, secrets.
import { describe, expect, it } from "vitest";
import { PlatformStackOutputsSchema, type UserStackSpec } from "../schemas/index.js";
import { mockRun } from "../runners/simulation/mock-run.js";
import { platformStackProgram, tunnelRoutes } from "./platform-stack.js";
import { userStackProgram } from "./user-stack.js";
import { CF_TOKEN, DNS_RECORD, TUNNEL_CONFIG, byName, examplePlatform, exampleUser, inputDiff, resourceSet, userInput } from "./testing/test-support.js";

const platform = examplePlatform();
const TUNNEL_TARGET = "7c1d2e3f-0a1b-4c2d-8e3f-405162738495.cfargotunnel.com";

async function runPlatform(users: UserStackSpec[]) {
  return mockRun(() => platformStackProgram({ platform, users, cloudflare: { apiToken: CF_TOKEN } }), { stack: "platform" });
}

const examples = (): UserStackSpec[] => [exampleUser("alice"), exampleUser("bob"), exampleUser("carol")];

describe("platform stack program", () => {
  it("declares one tunnel config with every route sorted and the catch-all last, and one CNAME per hostname", async () => {
    const { registrations: regs, outputs } = await runPlatform(examples());
    expect(resourceSet(regs)).toEqual([
      `${DNS_RECORD} dns/alice-web-api.example.com`,
      `${DNS_RECORD} dns/alice-web-www.example.com`,
      `${DNS_RECORD} dns/bob-app-app.example.com`,
      `${TUNNEL_CONFIG} tunnel-config`,
      "pulumi:providers:cloudflare cloudflare",
    ]);
    const config = byName(regs, "tunnel-config");
    expect(config.inputs).toEqual({
      accountId: "0123456789abcdef0123456789abcdef",
      tunnelId: "7c1d2e3f-0a1b-4c2d-8e3f-405162738495",
      source: "cloudflare",
      config: {
        ingresses: [
          { hostname: "alice-web-api.example.com", service: "http://10.10.0.21:8080" },
          { hostname: "alice-web-www.example.com", service: "http://10.10.0.21:80" },
          // bob is suspended but keeps his route: only his container stops.
          { hostname: "bob-app-app.example.com", service: "http://10.10.0.23:3000" },
          { service: "http_status:404" },
        ],
      },
    });
    for (const r of regs.filter((x) => x.type === DNS_RECORD)) {
      expect(r.inputs).toMatchObject({ zoneId: "fedcba9876543210fedcba9876543210", type: "CNAME", content: TUNNEL_TARGET, proxied: true, ttl: 1 });
      expect(r.name).toBe(`dns/${String(r.inputs.name)}`);
      expect(r.options.deleteBeforeReplace).toBe(true);
    }
    expect(PlatformStackOutputsSchema.parse(outputs).hostnames).toEqual(["alice-web-api.example.com", "alice-web-www.example.com", "bob-app-app.example.com"]);
  });

  it("with no domains at all the ingress is the catch-all alone", async () => {
    const { registrations: regs } = await runPlatform([exampleUser("carol")]);
    expect(byName(regs, "tunnel-config").inputs).toMatchObject({ config: { ingresses: [{ service: "http_status:404" }] } });
    expect(regs.filter((r) => r.type === DNS_RECORD)).toEqual([]);
  });

  it("the ingress does not depend on the order of the user files", async () => {
    const a = await runPlatform(examples());
    const b = await runPlatform(examples().reverse());
    expect(inputDiff(a.registrations, b.registrations)).toEqual([]);
  });

  it("adding a domain changes the platform stack and leaves the user stack's inputs identical", async () => {
    const alice = exampleUser("alice");
    const withBlog = {
      ...alice,
      instances: alice.instances.map((i) => (i.name === "web" ? { ...i, domains: [...i.domains, { subdomain: "blog", port: 80 }] } : i)),
    };
    const userBefore = await mockRun(() => userStackProgram(userInput(alice, platform)), { stack: "alice" });
    const userAfter = await mockRun(() => userStackProgram(userInput(withBlog, platform)), { stack: "alice" });
    expect(inputDiff(userBefore.registrations, userAfter.registrations)).toEqual([]);

    const before = await runPlatform([alice, exampleUser("bob")]);
    const after = await runPlatform([withBlog, exampleUser("bob")]);
    expect(inputDiff(before.registrations, after.registrations)).toEqual(
      expect.arrayContaining(["dns/alice-web-blog.example.com: added", "tunnel-config: config.ingresses.4.service"]),
    );
    const ingresses = (byName(after.registrations, "tunnel-config").inputs.config as { ingresses: { hostname?: string }[] }).ingresses;
    expect(ingresses.map((i) => i.hostname)).toEqual([
      "alice-web-api.example.com",
      "alice-web-blog.example.com",
      "alice-web-www.example.com",
      "bob-app-app.example.com",
      undefined,
    ]);
  });

  it("refuses two users whose names produce the same hostname", () => {
    const a = {
      ...exampleUser("alice"),
      name: "a",
      instances: [{ ...exampleUser("alice").instances[0]!, name: "b-c", domains: [{ subdomain: "d", port: 80 }] }],
    };
    const b = { ...exampleUser("bob"), name: "a-b", instances: [{ ...exampleUser("bob").instances[0]!, name: "c", domains: [{ subdomain: "d", port: 80 }] }] };
    expect(() => tunnelRoutes(platform, [a, b])).toThrow(/a-b-c-d\.example\.com is claimed by both a\/b-c \(d\) and a-b\/c \(d\)/);
  });

  it("refuses a hostname label longer than 63 characters and a routed instance without ip", () => {
    const alice = exampleUser("alice");
    const long = { ...alice, instances: [{ ...alice.instances[0]!, name: "x".repeat(60) }] };
    expect(() => tunnelRoutes(platform, [long])).toThrow(expect.objectContaining({ code: "name-too-long", kind: "stall" }));
    const { ip: _ip, ...noIp } = alice.instances[0]!;
    expect(() => tunnelRoutes(platform, [{ ...alice, instances: [noIp] }])).toThrow(/alice\/web declares domains but has no ip/);
  });

  it("keeps the operator's routes (cloudflare.extraIngress) first, in file order, before the users' routes, with their CNAMEs", async () => {
    const withOperator = {
      ...platform,
      cloudflare: {
        ...platform.cloudflare,
        extraIngress: [
          { hostname: "portal.example.com", path: "^/api/", service: "http://10.10.0.2:8081", dns: true },
          { hostname: "portal.example.com", service: "http://10.10.0.2:8080", dns: true },
          { hostname: "pve.example.com", service: "https://10.10.0.5:8006", dns: false },
        ],
      },
    };
    const { registrations: regs, outputs } = await mockRun(
      () => platformStackProgram({ platform: withOperator, users: examples(), cloudflare: { apiToken: CF_TOKEN } }),
      { stack: "platform" },
    );
    expect((byName(regs, "tunnel-config").inputs.config as { ingresses: unknown[] }).ingresses).toEqual([
      { hostname: "portal.example.com", path: "^/api/", service: "http://10.10.0.2:8081" },
      { hostname: "portal.example.com", service: "http://10.10.0.2:8080" },
      { hostname: "pve.example.com", service: "https://10.10.0.5:8006" },
      { hostname: "alice-web-api.example.com", service: "http://10.10.0.21:8080" },
      { hostname: "alice-web-www.example.com", service: "http://10.10.0.21:80" },
      { hostname: "bob-app-app.example.com", service: "http://10.10.0.23:3000" },
      { service: "http_status:404" },
    ]);
    // One CNAME for the operator hostname (two paths), none for the dns: false route.
    expect(regs.filter((r) => r.type === DNS_RECORD).map((r) => r.name)).toEqual([
      "dns/portal.example.com",
      "dns/alice-web-api.example.com",
      "dns/alice-web-www.example.com",
      "dns/bob-app-app.example.com",
    ]);
    expect(byName(regs, "dns/portal.example.com").inputs).toMatchObject({
      type: "CNAME",
      content: TUNNEL_TARGET,
      proxied: true,
      comment: "proxstack operator route portal.example.com (stacks/platform.yaml cloudflare.extraIngress)",
    });
    expect(PlatformStackOutputsSchema.parse(outputs).hostnames).toEqual(["alice-web-api.example.com", "alice-web-www.example.com", "bob-app-app.example.com"]);
  });

  it("refuses a user hostname that is an operator route", () => {
    const clash = {
      ...platform,
      cloudflare: { ...platform.cloudflare, extraIngress: [{ hostname: "bob-app-app.example.com", service: "http://10.10.0.2:8080", dns: true }] },
    };
    expect(() => tunnelRoutes(clash, examples())).toThrow(
      /bob-app-app\.example\.com is claimed by both the operator route cloudflare\.extraIngress\[0\] of stacks\/platform\.yaml and bob\/app \(app\)/,
    );
  });

  it("keeps the Cloudflare token secret and out of every other resource and the outputs", async () => {
    const { registrations: regs, outputs } = await runPlatform(examples());
    const provider = byName(regs, "cloudflare");
    expect(provider.secretPaths).toEqual(["apiToken"]);
    expect(provider.inputs.apiToken).toBe(CF_TOKEN);
    for (const r of regs.filter((x) => x !== provider)) expect(JSON.stringify(r.inputs)).not.toContain(CF_TOKEN);
    expect(JSON.stringify(outputs)).not.toContain(CF_TOKEN);
  });
});
