// Explicit Pulumi provider resources for Proxmox VE and Cloudflare, built from settings passed in (never from env).
import * as pulumi from "@pulumi/pulumi";
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as cloudflare from "@pulumi/cloudflare";
import { logicalName } from "./naming.js";

/** How the user-stack program reaches Proxmox VE. The engine builds it from its config; the CLI entry from Pulumi config or env. */
export interface ProxmoxProviderSettings {
  /** API endpoint without `/api2/json`. @example https://pve.example.com:8006/ */
  endpoint: string;
  /** API token `USER@REALM!TOKENID=SECRET`; wrapped in `pulumi.secret`, so it is encrypted in state. */
  apiToken: pulumi.Input<string>;
  /** Accept a self-signed certificate. The provider cannot pin a fingerprint; prefer a trusted certificate. */
  insecure: boolean;
  /** Lowest TLS version the provider accepts. @default "1.3" (the provider's default) */
  minTls?: string;
}

/** How the platform-stack program reaches Cloudflare. */
export interface CloudflareProviderSettings {
  /** API token with Tunnel Write and DNS Write; wrapped in `pulumi.secret`. */
  apiToken: pulumi.Input<string>;
  /** API base URL; only set for the simulator. @default https://api.cloudflare.com/client/v4 */
  baseUrl?: string;
}

/** The one Proxmox provider of a user stack. Its logical name is frozen: renaming it would touch every resource. */
export function createProxmoxProvider(settings: ProxmoxProviderSettings): proxmox.Provider {
  return new proxmox.Provider(logicalName.proxmoxProvider, {
    endpoint: settings.endpoint,
    apiToken: pulumi.secret(settings.apiToken),
    insecure: settings.insecure,
    ...(settings.minTls !== undefined ? { minTls: settings.minTls } : {}),
  });
}

/** The one Cloudflare provider of the platform stack. */
export function createCloudflareProvider(settings: CloudflareProviderSettings): cloudflare.Provider {
  return new cloudflare.Provider(logicalName.cloudflareProvider, {
    apiToken: pulumi.secret(settings.apiToken),
    ...(settings.baseUrl !== undefined ? { baseUrl: settings.baseUrl } : {}),
  });
}
