// Conformance checking for tests: validates every request a Cloudflare client sends against the OpenAPI subset.
import type { CfRequestRecord } from "../../clients/cloudflare/client.js";
import { loadCloudflareSchema } from "./schema.js";

export interface CfConformance {
  onRequest(req: CfRequestRecord): void;
  seen(): string[];
  problems(): string[];
}

/** A recording hook: the path must be a spec operation, query names declared by it, the body valid. */
export function createCfConformance(): CfConformance {
  const schema = loadCloudflareSchema();
  const seen: string[] = [];
  const problems: string[] = [];
  return {
    onRequest(req) {
      seen.push(`${req.method} ${req.path}`);
      const op = schema.route(req.method, req.path);
      if (!op) {
        problems.push(`${req.method} ${req.path}: no such operation in the Cloudflare subset`);
        return;
      }
      for (const k of Object.keys(req.query))
        if (!op.query.includes(k)) problems.push(`${req.method} ${op.template}: query parameter '${k}' is not in the spec`);
      if (req.body !== undefined && req.method !== "PATCH") {
        for (const p of schema.checkRequest(op, req.body)) problems.push(`${req.method} ${op.template}: body ${p}`);
      }
    },
    seen: () => [...seen],
    problems: () => [...problems],
  };
}
