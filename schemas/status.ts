// JSON the engine's status store keeps in SQLite columns: parsed with these schemas whenever a row is read back.
import { z } from "zod";
import { DnsLabelSchema, Ipv4Schema } from "./common.js";
import { PlatformStackOutputsSchema, UserStackOutputsSchema } from "./outputs.js";
import { PlatformSpecSchema } from "./platform.js";
import { UserStackSpecSchema } from "./user-stack.js";

export const AppliedRouteSchema = z
  .object({
    user: DnsLabelSchema.describe("Owning user stack. @example alice"),
    instance: DnsLabelSchema.describe("Target instance. @example web"),
    subdomain: DnsLabelSchema.describe("First label of the public hostname's subdomain part. @example www"),
    port: z.number().int().min(1).max(65535).describe("Port on the container. @example 80"),
    ip: Ipv4Schema.optional().describe("Container address the route forwards to. @example 10.10.0.21"),
  })
  .strict()
  .describe("One route the platform stack applied for a user.");

export const AppliedPlatformSpecSchema = z
  .object({
    platform: PlatformSpecSchema.describe("The platform file as applied."),
    routes: z.array(z.tuple([DnsLabelSchema, z.array(AppliedRouteSchema)])).describe("Every routed user with its routes, as applied."),
  })
  .strict()
  .describe("What the last successful platform-stack run applied (stacks.applied_spec of the platform stack).");

/** A user stack's applied spec (stacks.applied_spec) is the stack file's spec as validated: `UserStackSpecSchema`. */
export const AppliedUserSpecSchema = UserStackSpecSchema;

/** Outputs of a successful run (runs.outputs), by the kind of stack it ran. */
export const RunOutputsSchema = z.union([UserStackOutputsSchema, PlatformStackOutputsSchema]);

const STEP_OPS = ["create", "update", "delete", "replace", "same", "read", "refresh", "create-replacement", "delete-replaced"] as const;

export const RunEventSchema = z
  .object({
    at: z.string().min(1).describe("ISO time. @example 2026-11-25T12:00:00.000Z"),
    type: z.enum(["prelude", "resource-pre", "resource-outputs", "resource-failed", "diagnostic", "summary", "cancel"]),
    urn: z.string().optional(),
    resourceType: z.string().optional(),
    op: z.enum(STEP_OPS).optional(),
    severity: z.enum(["debug", "info", "warning", "error"]).optional(),
    message: z.string().optional(),
  })
  .strict()
  .describe("One engine event of a run (run_events.event), the same shape for both runners.");

export type AppliedPlatformSpec = z.infer<typeof AppliedPlatformSpecSchema>;
export type RunOutputs = z.infer<typeof RunOutputsSchema>;
