// The stacks repository's sync status (`<data dir>/sync.json`): written by `proxstack sync` and serve's timer, read by status and the admin page.
import { z } from "zod";

export const SyncStateSchema = z
  .enum(["no-remote", "up-to-date", "fast-forwarded", "pushed", "rebased", "conflict", "error"])
  .describe(
    "Outcome of the last sync: no-remote (nothing to sync), up-to-date, fast-forwarded (merged changes pulled), pushed (local commits sent), " +
      "rebased (local commits replayed on merged ones and pushed), conflict (both sides kept apart, see conflict), error (see error; retried).",
  );

export const SyncStatusSchema = z
  .object({
    state: SyncStateSchema,
    at: z.iso.datetime().describe("When the sync finished (ISO). @example 2026-11-30T10:00:00.000Z"),
    lastSuccessAt: z.iso.datetime().optional().describe("The last sync that ended without conflict or error."),
    remote: z.string().optional().describe("Remote name. @example origin"),
    branch: z.string().optional().describe("Local branch synced. @example main"),
    head: z.string().optional().describe("Local commit after the sync: what the engine applies."),
    upstream: z.string().optional().describe("The remote branch's commit as fetched."),
    conflict: z
      .object({
        files: z.array(z.string()).describe('Files both sides changed in ways git cannot combine. @example ["alice.yaml"]'),
        local: z.string().describe("The local commit kept in place (the engine keeps applying it)."),
        remote: z.string().describe("The remote commit not taken in."),
        pushedTo: z
          .string()
          .optional()
          .describe("Remote branch holding the local side, for a pull request that resolves it. @example proxstack/conflict-1a2b3c4d"),
        message: z.string().describe("What happened and what to do, in plain words."),
      })
      .optional(),
    error: z.string().optional().describe("Why the last sync failed (fetch, push, uncommitted edits in the way); retried on the next tick."),
  })
  .describe("Status of syncing the stacks repository with its remote.");

export type SyncState = z.infer<typeof SyncStateSchema>;
export type SyncStatus = z.infer<typeof SyncStatusSchema>;
