// Reading JSON documents back from the simulators' SQLite rows: parsed at the edge with zod, corrupt rows named.
import type { z } from "zod";
import { ProxstackError } from "../lib/errors.js";

export function parseRow<T>(schema: z.ZodType<T>, doc: string, what: string): T {
  const r = schema.safeParse(JSON.parse(doc));
  if (!r.success) throw new ProxstackError("simulation.corrupt-state", `simulator state: corrupt ${what} row: ${r.error.message}`, { kind: "bug" });
  return r.data;
}
