// /api/templates and /api/plans: the public catalog from the platform file.
import { Router } from "express";
import { z } from "zod";
import type { PortalContext } from "../context.js";
import { route, type RouteRegistry } from "../routing.js";

export const TemplateOut = z.object({ name: z.string(), description: z.string() });
export const PlanOut = z.object({
  name: z.string(),
  description: z.string(),
  cores: z.number(),
  memoryMiB: z.number(),
  swapMiB: z.number(),
  diskGiB: z.number(),
  pointsPerDay: z.number(),
});

export function catalogRoutes(ctx: PortalContext, registry: RouteRegistry): Router {
  const r = Router();
  route(
    r,
    registry,
    {
      method: "get",
      path: "/templates",
      tag: "catalog",
      auth: "public",
      summary: "Templates instances can be created from",
      response: { status: 200, schema: z.object({ items: z.array(TemplateOut) }) },
    },
    [],
    async (_req, res) => {
      const p = await ctx.specs.platform();
      res.json({ items: Object.entries(p.templates).map(([name, t]) => ({ name, description: t.description ?? name })) });
    },
  );
  route(
    r,
    registry,
    {
      method: "get",
      path: "/plans",
      tag: "catalog",
      auth: "public",
      summary: "Plans: resources and points per day",
      response: { status: 200, schema: z.object({ items: z.array(PlanOut) }) },
    },
    [],
    async (_req, res) => {
      const p = await ctx.specs.platform();
      res.json({
        items: Object.entries(p.plans).map(([name, pl]) => ({
          name,
          description: pl.description ?? `${pl.cores} core(s), ${pl.memoryMiB} MiB, ${pl.diskGiB} GiB`,
          cores: pl.cores,
          memoryMiB: pl.memoryMiB,
          swapMiB: pl.swapMiB,
          diskGiB: pl.diskGiB,
          pointsPerDay: pl.pointsPerDay,
        })),
      });
    },
  );
  return r;
}
