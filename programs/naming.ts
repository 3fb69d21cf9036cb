// Every name proxstack gives to things in Pulumi, Proxmox and Cloudflare, in one place so no two parts drift apart.
import { ProxstackError } from "../lib/errors.js";

/** The Pulumi project name: Pulumi.yaml `name` and the Automation API's `projectName` must both be this. */
export const PROJECT_NAME = "proxstack";

/** The Pulumi stack that owns the tunnel ingress and DNS records; every other stack name is a user's. */
export const PLATFORM_STACK = "platform";

/** Namespace of proxstack's Pulumi config keys, e.g. `proxstack:proxmoxApiToken`. */
export const CONFIG_NAMESPACE = "proxstack";

/** Component resource type grouping one instance's resources, so URNs read `…$proxstack:user:Instance$…::alice/web/container`. */
export const INSTANCE_COMPONENT_TYPE = "proxstack:user:Instance";

/**
 * Pulumi type tokens of every resource the programs declare, as the pinned provider SDKs spell them
 * (`__pulumiType` of each class; naming.test.ts checks they still match). Everyone else imports these.
 */
export const RESOURCE_TYPE = {
  container: "proxmoxve:index/containerLegacy:ContainerLegacy",
  firewallOptions: "proxmoxve:firewall/optionsLegacy:OptionsLegacy",
  firewallRules: "proxmoxve:firewall/rulesLegacy:RulesLegacy",
  tunnelConfig: "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig",
  dnsRecord: "cloudflare:index/dnsRecord:DnsRecord",
  /** The root resource Pulumi registers for every stack. */
  stack: "pulumi:pulumi:Stack",
} as const;

/** Type tokens of explicit provider resources start with this, e.g. `pulumi:providers:proxmoxve`. */
export const PROVIDER_TYPE_PREFIX = "pulumi:providers:";

/** A Pulumi URN's parts: `urn:pulumi:<stack>::<project>::<qualified type>::<name>`. */
export interface ParsedUrn {
  stack: string;
  project: string;
  /** The resource's own type (the last of the `$`-joined parent types). */
  type: string;
  /** The logical name, e.g. `alice/web/container`; it may itself contain `::`. */
  name: string;
}

/** Splits a URN into its parts; undefined for anything that is not one. */
export function parseUrn(urn: string): ParsedUrn | undefined {
  const m = /^urn:pulumi:([^:]*)::([^:]*)::([^:]*(?::[^:]+)*?)::(.*)$/s.exec(urn);
  if (!m) return undefined;
  const [, stack = "", project = "", qualified = "", name = ""] = m;
  return { stack, project, type: qualified.split("$").at(-1) ?? qualified, name };
}

/** The logical name a URN ends with; the URN itself when it is not one. */
export function urnName(urn: string): string {
  return parseUrn(urn)?.name ?? urn;
}

/** The URN of a top-level resource of this project. @example urn:pulumi:alice::proxstack::<type>::alice/web/container */
export function resourceUrn(stack: string, type: string, name: string): string {
  return `urn:pulumi:${stack}::${PROJECT_NAME}::${type}::${name}`;
}

/** A DNS label (and a tunnel hostname's first part) holds at most 63 characters. */
export const MAX_LABEL_LENGTH = 63;

/** Container hostname and the name users see: `<user>-<instance>`. @example alice-web */
export function hostname(user: string, instance: string): string {
  return `${user}-${instance}`;
}

/** First label of a public tunnel hostname: `<user>-<instance>-<subdomain>`. @example alice-web-www */
export function tunnelLabel(user: string, instance: string, subdomain: string): string {
  return `${user}-${instance}-${subdomain}`;
}

/** Public tunnel hostname: `<user>-<instance>-<subdomain>.<baseDomain>`. @example alice-web-www.example.com */
export function tunnelHostname(user: string, instance: string, subdomain: string, baseDomain: string): string {
  return `${tunnelLabel(user, instance, subdomain)}.${baseDomain}`;
}

/** Throws a stall error when a generated name cannot be a DNS label (too long). */
export function assertLabelLength(label: string, what: string): void {
  if (label.length > MAX_LABEL_LENGTH) {
    throw new ProxstackError(
      "name-too-long",
      `${what} "${label}" has ${label.length} characters; a DNS label holds at most ${MAX_LABEL_LENGTH}: shorten the user, instance or subdomain name`,
      { kind: "stall" },
    );
  }
}

/**
 * Pulumi logical names. They are part of every URN: changing one makes Pulumi delete the old resource and
 * create a new one, so these strings are frozen. Children are prefixed with their component's name so that
 * an alias on the component is inherited by its children (Pulumi's child-alias rule).
 */
export const logicalName = {
  proxmoxProvider: "proxmox",
  cloudflareProvider: "cloudflare",
  instance: (user: string, instance: string): string => `${user}/${instance}`,
  container: (user: string, instance: string): string => `${user}/${instance}/container`,
  firewallOptions: (user: string, instance: string): string => `${user}/${instance}/firewall-options`,
  firewallRules: (user: string, instance: string): string => `${user}/${instance}/firewall-rules`,
  tunnelConfig: "tunnel-config",
  dnsRecord: (fqdn: string): string => `dns/${fqdn}`,
} as const;

/** Proxmox tags (lower-case and sorted, as Proxmox stores them, so they never show a diff). */
export function containerTags(user: string, instance: string): string[] {
  return ["proxstack", `user-${user}`, `instance-${instance}`].sort();
}

/** Proxmox description tying a container back to its stack file. Stable: it holds nothing that changes. */
export function containerDescription(user: string, instance: string): string {
  return `Managed by proxstack from stacks/${user}.yaml (instance ${instance}). Edit the stack file, not this container.`;
}

/** Comment on a Cloudflare DNS record, tying it to its instance. */
export function dnsComment(user: string, instance: string): string {
  return `proxstack ${user}/${instance} (stacks/${user}.yaml)`;
}

/** Comment on the DNS record of an operator route (`cloudflare.extraIngress` in the platform file). */
export function operatorDnsComment(hostname: string): string {
  return `proxstack operator route ${hostname} (stacks/platform.yaml cloudflare.extraIngress)`;
}

/** Comments on firewall rules, so an operator reading Proxmox knows why a rule exists. */
export const ruleComment = {
  vpnPeer: (user: string): string => `proxstack: VPN peer of ${user}`,
  // Names the port, not the domains: adding a domain on a port already open leaves the rules untouched.
  tunnel: (port: number): string => `proxstack: tunnel connector to port ${port}`,
  engineSsh: (): string => "proxstack: engine host SSH (hooks)",
} as const;

/** File name of a user's stack file inside the stacks directory. */
export function stackFileName(user: string): string {
  return `${user}.yaml`;
}

/** File name of the platform file inside the stacks directory. */
export const PLATFORM_FILE = "platform.yaml";
