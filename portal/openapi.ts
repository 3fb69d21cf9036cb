// OpenAPI 3.1 from the routes' zod schemas: one document, generated, never written by hand.
import { z } from "zod";
import type { RouteRegistry } from "./routing.js";

const ErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string(), fields: z.record(z.string(), z.string()).optional() }) });

const json = (schema: z.ZodType, io: "input" | "output") => z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" });

export function openApiDocument(registry: RouteRegistry, mounts: Map<RouteRegistry[number], string>): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of registry) {
    const full = `${mounts.get(r) ?? ""}${r.path === "/" ? "" : r.path}`.replace(/:([A-Za-z]+)/g, "{$1}") || "/";
    const params = [...full.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    const query = r.query
      ? Object.entries((json(r.query, "input").properties ?? {}) as Record<string, unknown>).map(([name, schema]) => ({
          name,
          in: "query",
          required: false,
          schema,
        }))
      : [];
    const responses: Record<string, unknown> = {};
    const ok = r.response ?? { status: 200 };
    responses[String(ok.status)] = {
      description: r.summary,
      ...(ok.schema
        ? { content: { [ok.contentType ?? "application/json"]: { schema: json(ok.schema, "output") } } }
        : ok.contentType
          ? { content: { [ok.contentType]: {} } }
          : {}),
    };
    for (const s of [...(r.errors ?? []), 500])
      responses[String(s)] = { description: "error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
    paths[full] ??= {};
    (paths[full] as Record<string, unknown>)[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.auth === "public" ? { security: [] } : {}),
      ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: json(r.body, "input") } } } } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "proxstack portal API",
      version: "1",
      description: 'Every change a user makes becomes an edit of their stack file. Errors: {"error":{"code","message","fields"?}}.',
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } }, schemas: { Error: json(ErrorSchema, "output") } },
    paths,
  };
}
