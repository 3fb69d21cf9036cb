// GET /api/mode (public): whether this installation runs against simulators, so the web portal can say so.
// GET /api/instances/:id/source: the instance's part of the stack file (read-only YAML) and the file's git history.
import { Router, type Request } from "express";
import { isMap, isSeq, parseDocument } from "yaml";
import { z } from "zod";
import { caller, requireUser } from "../auth-guard.js";
import type { PortalContext } from "../context.js";
import { httpError } from "../http-errors.js";
import { ownInstance } from "../ownership.js";
import { route, type RouteRegistry } from "../routing.js";
import type { StackHistory } from "../stack-history.js";

export interface PortalMode {
  mode: "pulumi" | "simulation";
  providers: { proxmox: "real" | "simulated"; cloudflare: "real" | "simulated" };
}

export const ModeOut = z.object({
  mode: z.enum(["pulumi", "simulation"]),
  providers: z.object({ proxmox: z.enum(["real", "simulated"]), cloudflare: z.enum(["real", "simulated"]) }),
  simulation: z.boolean().describe("True when any provider is simulated: nothing real is created there."),
  baseDomain: z.string().describe("Hostnames are <stack>-<instance>-<subdomain>.<baseDomain>."),
  domains: z.object({ freePerInstance: z.number().int(), extraPointsPerDay: z.number() }),
  runwayHours: z.number().describe("Creating or resizing needs points for this many hours at the new burn rate."),
});

export const SourceOut = z.object({
  file: z.string().describe("The stack file, relative to the stacks repository. @example alice.yaml"),
  yaml: z.string().describe("The instance's entry exactly as written in the file (comments kept)."),
  commits: z.array(z.object({ sha: z.string(), author: z.string(), email: z.string(), at: z.string(), subject: z.string() })),
});

/** The `instances:` item named `name` as written (layout and comments kept), as a one-item list dedented to column 0. */
export function instanceText(text: string, name: string): string | undefined {
  const doc = parseDocument(text);
  const list = doc.get("instances", true);
  if (!isSeq(list)) return undefined;
  const item = list.items.find((i) => isMap(i) && i.get("name") === name);
  if (!item || !isMap(item) || !item.range) return undefined;
  const lineStart = text.lastIndexOf("\n", item.range[0] - 1) + 1;
  const lines = text.slice(lineStart, item.range[1]).replace(/\s+$/, "").split("\n");
  const indent = Math.min(...lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join("\n") + "\n";
}

export function aboutRoutes(ctx: PortalContext, registry: RouteRegistry, mode: PortalMode | undefined): Router {
  const r = Router();
  route(
    r,
    registry,
    {
      method: "get",
      path: "/mode",
      tag: "catalog",
      auth: "public",
      summary: "Simulation or real (which providers are simulated), the base domain, domain pricing and the runway rule",
      response: { status: 200, schema: ModeOut },
    },
    [],
    async (_req, res) => {
      const m = mode ?? { mode: "simulation", providers: { proxmox: "simulated", cloudflare: "simulated" } };
      const p = await ctx.specs.platform();
      res.json({
        ...m,
        simulation: m.providers.proxmox === "simulated" || m.providers.cloudflare === "simulated",
        baseDomain: p.baseDomain,
        domains: { freePerInstance: p.domains.freePerInstance, extraPointsPerDay: p.domains.extraPointsPerDay },
        runwayHours: ctx.options.runwayHours,
      });
    },
  );
  return r;
}

export function sourceRoutes(ctx: PortalContext, registry: RouteRegistry, history: StackHistory | undefined): Router {
  const r = Router();
  const id = (req: Request) => String(req.params.id ?? "");
  route(
    r,
    registry,
    {
      method: "get",
      path: "/:id/source",
      tag: "instances",
      auth: "user",
      summary: "The instance's part of the stack file (YAML) and the file's git history",
      response: { status: 200, schema: SourceOut },
      errors: [401, 404, 503],
    },
    [requireUser(ctx)],
    async (req, res) => {
      const o = await ownInstance(ctx, caller(req).account, id(req));
      const file = await ctx.specs.read(o.stack);
      const yaml = file ? instanceText(file.text, o.instance.name) : undefined;
      if (yaml === undefined) throw httpError(404, "not-found", `instance ${o.stack}.${o.instance.name} is not in ${o.stack}.yaml`);
      if (!history) throw httpError(503, "history-unavailable", "the stacks repository history is not available on this installation");
      res.json({ file: `${o.stack}.yaml`, yaml, commits: await history(o.stack, 50) });
    },
  );
  return r;
}
