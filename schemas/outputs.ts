// Stack outputs of the Pulumi programs: what the engine parses after every run (user stacks and the platform stack).
import { z } from "zod";
import { ProxstackError } from "../lib/errors.js";
import { DnsLabelSchema, Ipv4Schema, VmidSchema } from "./common.js";

export const InstanceOutputSchema = z
  .object({
    name: DnsLabelSchema.describe("Instance name from the stack file. @example web"),
    vmid: VmidSchema.describe("Proxmox VMID of the container. @example 2001"),
    ip: Ipv4Schema.describe("Static IPv4 address of the container. @example 10.10.0.21"),
    hostname: z.string().min(1).describe("Container hostname <user>-<instance>. @example alice-web"),
    power: z.enum(["running", "stopped"]).describe("Power the run requested: stopped while the user is suspended, else the file's power. @example running"),
  })
  .strict()
  .describe("One container as the last run declared it.");

export const UserStackOutputsSchema = z
  .object({
    stack: DnsLabelSchema.describe("User stack name. @example alice"),
    suspended: z.boolean().describe("Whether a suspension stopped every container in this run."),
    instances: z.array(InstanceOutputSchema).describe("Every instance, in stack-file order."),
    vpnPeerAddresses: z
      .array(Ipv4Schema)
      .optional()
      .describe(
        'The WireGuard peer addresses the firewall admitted in this run (an input from the VPN service, not from the file), sorted; absent in runs recorded before it was kept. @example ["10.99.0.5"]',
      ),
  })
  .strict()
  .describe("Outputs of a user stack run.");

export const PlatformRouteOutputSchema = z
  .object({
    hostname: z.string().min(1).describe("Public hostname. @example alice-web-www.example.com"),
    service: z.string().min(1).describe("Where the tunnel forwards it. @example http://10.10.0.21:80"),
    user: DnsLabelSchema.describe("Owning user stack. @example alice"),
    instance: DnsLabelSchema.describe("Target instance. @example web"),
  })
  .strict();

export const PlatformStackOutputsSchema = z
  .object({
    hostnames: z.array(z.string().min(1)).describe("Every public hostname routed through the tunnel, sorted."),
    routes: z.array(PlatformRouteOutputSchema).describe("The tunnel's ingress rules without the catch-all, in ingress order."),
  })
  .strict()
  .describe("Outputs of the platform stack run.");

export type InstanceOutput = z.infer<typeof InstanceOutputSchema>;
export type UserStackOutputs = z.infer<typeof UserStackOutputsSchema>;
export type PlatformRouteOutput = z.infer<typeof PlatformRouteOutputSchema>;
export type PlatformStackOutputs = z.infer<typeof PlatformStackOutputsSchema>;

/**
 * Parses the outputs of a run with their schema. A mismatch means the program and the engine disagree:
 * a bug-kind error naming the fields, never a fallback to the spec's values.
 */
export function parseRunOutputs<T>(schema: z.ZodType<T>, outputs: unknown, what: string): T {
  const r = schema.safeParse(outputs);
  if (r.success) return r.data;
  const fields = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
  throw new ProxstackError("outputs-invalid", `${what}: the outputs do not match their schema (${fields})`, { kind: "bug" });
}
