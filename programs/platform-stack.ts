// The platform-stack program: the one owner of the Cloudflare tunnel ingress and of the tunnel hostnames' DNS records.
import type * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import { ProxstackError } from "../lib/errors.js";
import type { ExtraIngressRule, PlatformRouteOutput, PlatformSpec, PlatformStackOutputs, UserStackSpec } from "../schemas/index.js";
import { assertLabelLength, dnsComment, logicalName, operatorDnsComment, tunnelHostname, tunnelLabel } from "./naming.js";
import { createCloudflareProvider, type CloudflareProviderSettings } from "./providers.js";

export interface PlatformStackProgramInput {
  platform: PlatformSpec;
  /** Every valid user stack file; their domains become the tunnel's ingress. */
  users: UserStackSpec[];
  cloudflare: CloudflareProviderSettings;
}

/** The rule that must end every tunnel ingress list: no hostname, answer 404. */
export const CATCH_ALL_SERVICE = "http_status:404";

/** One ingress rule as the provider takes it. */
export interface IngressRule {
  hostname?: string;
  path?: string;
  service: string;
}

/**
 * Routes of every user's domains, sorted by hostname so the ingress never reorders between runs.
 * Suspended users keep their routes (their containers are stopped; the tunnel answers 502 meanwhile).
 * Throws a stall error on a hostname too long for DNS, an instance with domains but no ip, or two
 * users whose names produce the same hostname (user `a-b` + instance `c` vs user `a` + instance `b-c`),
 * or a user hostname that is one of the operator's routes (`cloudflare.extraIngress`).
 */
export function tunnelRoutes(platform: PlatformSpec, users: readonly UserStackSpec[]): PlatformRouteOutput[] {
  const routes: PlatformRouteOutput[] = [];
  const owner = new Map<string, string>(
    platform.cloudflare.extraIngress.map((r, i) => [r.hostname.toLowerCase(), `the operator route cloudflare.extraIngress[${i}] of stacks/platform.yaml`]),
  );
  for (const spec of users) {
    for (const instance of spec.instances) {
      if (instance.domains.length === 0) continue;
      if (instance.ip === undefined) {
        throw new ProxstackError(
          "allocation-missing",
          `instance ${spec.name}/${instance.name} declares domains but has no ip yet: the engine allocates it before any run`,
          { kind: "stall" },
        );
      }
      for (const d of instance.domains) {
        assertLabelLength(tunnelLabel(spec.name, instance.name, d.subdomain), "tunnel hostname label");
        const host = tunnelHostname(spec.name, instance.name, d.subdomain, platform.baseDomain);
        const where = `${spec.name}/${instance.name} (${d.subdomain})`;
        const first = owner.get(host);
        if (first !== undefined) {
          throw new ProxstackError("hostname-collision", `hostname ${host} is claimed by both ${first} and ${where}: rename one subdomain`, { kind: "stall" });
        }
        owner.set(host, where);
        routes.push({ hostname: host, service: `http://${instance.ip}:${d.port}`, user: spec.name, instance: instance.name });
      }
    }
  }
  return routes.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
}

/**
 * The full ingress list: the operator's routes first, in the platform file's order, then the users'
 * routes in order, then the catch-all (Cloudflare rejects a list without it last).
 */
export function ingressRules(routes: readonly PlatformRouteOutput[], extra: readonly ExtraIngressRule[] = []): IngressRule[] {
  return [
    ...extra.map((r) => ({ hostname: r.hostname, ...(r.path !== undefined ? { path: r.path } : {}), service: r.service })),
    ...routes.map((r) => ({ hostname: r.hostname, service: r.service })),
    { service: CATCH_ALL_SERVICE },
  ];
}

/** Target of every tunnel CNAME. */
export function tunnelCnameTarget(platform: PlatformSpec): string {
  return `${platform.cloudflare.tunnelId}.cfargotunnel.com`;
}

/**
 * Declares the tunnel configuration and one proxied CNAME per hostname. User stacks never touch the
 * tunnel: it has exactly one configuration and two writers would overwrite each other.
 */
export async function platformStackProgram(input: PlatformStackProgramInput): Promise<PlatformStackOutputs> {
  const routes = tunnelRoutes(input.platform, input.users);
  const provider = createCloudflareProvider(input.cloudflare);
  createTunnelConfig(input.platform, routes, provider);
  createDnsRecords(input.platform, routes, provider);
  return Promise.resolve({ hostnames: routes.map((r) => r.hostname), routes });
}

function createTunnelConfig(platform: PlatformSpec, routes: PlatformRouteOutput[], provider: cloudflare.Provider): void {
  new cloudflare.ZeroTrustTunnelCloudflaredConfig(
    logicalName.tunnelConfig,
    {
      accountId: platform.cloudflare.accountId,
      tunnelId: platform.cloudflare.tunnelId,
      source: "cloudflare",
      config: { ingresses: ingressRules(routes, platform.cloudflare.extraIngress) },
    },
    { provider },
  );
}

function createDnsRecords(platform: PlatformSpec, routes: PlatformRouteOutput[], provider: cloudflare.Provider): void {
  // One record per hostname: an operator hostname listed twice (different paths) gets one CNAME.
  const operator = [...new Set(platform.cloudflare.extraIngress.filter((r) => r.dns).map((r) => r.hostname.toLowerCase()))];
  const records = [
    ...operator.map((hostname) => ({ hostname, comment: operatorDnsComment(hostname) })),
    ...routes.map((r) => ({ hostname: r.hostname, comment: dnsComment(r.user, r.instance) })),
  ];
  for (const r of records) {
    new cloudflare.DnsRecord(
      logicalName.dnsRecord(r.hostname),
      {
        zoneId: platform.cloudflare.zoneId,
        name: r.hostname,
        type: "CNAME",
        content: tunnelCnameTarget(platform),
        proxied: true,
        // Proxied records are served with automatic TTL; anything but 1 would show a diff on every run.
        ttl: 1,
        comment: r.comment,
      },
      {
        provider,
        // A CNAME cannot coexist with another record of the same name, so a replacement deletes first.
        deleteBeforeReplace: true,
      } satisfies pulumi.CustomResourceOptions,
    );
  }
}
