// Conformance checking for tests: validates every request a Proxmox client sends against the reference schema.
import type { PveRequestRecord } from "../../clients/proxmox/transport.js";
import { checkParams, loadPveSchema, type PveVersion } from "./schema.js";

export interface PveConformance {
  /** Pass as the client's `onRequest`. */
  onRequest(req: PveRequestRecord): void;
  /** Every request seen, as `METHOD path`. */
  seen(): string[];
  /** Requests that do not conform (unknown endpoint, parameters the schema rejects). */
  problems(): string[];
}

/** A recording hook that checks requests against the PVE `version` schema. */
export function createPveConformance(version: PveVersion): PveConformance {
  const schema = loadPveSchema(version);
  const seen: string[] = [];
  const problems: string[] = [];
  return {
    onRequest(req) {
      seen.push(`${req.method} ${req.path}`);
      const found = schema.route(req.method, req.path);
      if (!found.ok) {
        problems.push(`${req.method} ${req.path}: no such endpoint in the PVE ${version} schema`);
        return;
      }
      const raw: Record<string, unknown> = { ...req.params };
      for (const [k, v] of Object.entries(found.route.pathParams)) {
        if (raw[k] !== undefined && raw[k] !== v) problems.push(`${req.method} ${req.path}: parameter ${k} conflicts with the path`);
        raw[k] = v;
      }
      const { errors } = checkParams(found.route.info, raw, false);
      for (const [k, msg] of Object.entries(errors)) problems.push(`${req.method} ${found.route.template}: ${k}: ${msg}`);
    },
    seen: () => [...seen],
    problems: () => [...problems],
  };
}
