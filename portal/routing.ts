// Typed routes: each route declares its zod body/query/response schemas once — they validate requests and generate the OpenAPI document.
import type { NextFunction, Request, Response, Router } from "express";
import { z } from "zod";
import { deferMessages, issueText } from "../stackfiles/schema-issues.js";
import { httpError } from "./http-errors.js";

export type Method = "get" | "post" | "put" | "patch" | "delete";

export interface RouteSpec<B extends z.ZodType | undefined, Q extends z.ZodType | undefined> {
  method: Method;
  /** Express path; `:id` params become OpenAPI `{id}`. */
  path: string;
  summary: string;
  tag: string;
  /** "user": a logged-in account; "admin": role admin; "public": none. */
  auth: "public" | "user" | "admin";
  body?: B;
  query?: Q;
  /** The success response's status and schema (for the document). */
  response?: { status: number; schema?: z.ZodType; contentType?: string };
  /** Extra error statuses a route answers, for the document. */
  errors?: number[];
}

export interface Parsed<B, Q> {
  body: B;
  query: Q;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/** Every route registered, in order (the OpenAPI generator reads it). */
export type RouteRegistry = RouteSpec<z.ZodType | undefined, z.ZodType | undefined>[];

/** zod issues of `input` as `fields`: dotted path → message in plain words (unknown keys named one by one). */
export function issuesToFields(issues: readonly z.core.$ZodIssue[], input: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const i of issues) {
    if (i.code === "unrecognized_keys") {
      for (const k of i.keys) fields[[...i.path, k].join(".")] = "is not a known field";
      continue;
    }
    const key = i.path.length > 0 ? i.path.join(".") : "(body)";
    fields[key] ??= issueText(i, input);
  }
  return fields;
}

export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  // The schema's own messages win; where it has none, the stack files' plain wording instead of zod's.
  const r = schema.safeParse(value, { error: deferMessages, reportInput: true });
  if (!r.success) {
    const fields = issuesToFields(r.error.issues, value);
    const first = Object.entries(fields)[0];
    throw httpError(400, "invalid-request", `the ${what} is invalid${first ? `: ${first[0]} ${first[1]}` : ""}`, fields);
  }
  return r.data;
}

/** Routes without a body still refuse one with fields in it (unknown fields are never ignored). */
const NO_BODY = z.object({}).strict();

/** Registers a route on `router` and in `registry`; the handler gets the parsed body and query. */
export function route<B extends z.ZodType | undefined, Q extends z.ZodType | undefined>(
  router: Router,
  registry: RouteRegistry,
  spec: RouteSpec<B, Q>,
  guards: ((req: Request, res: Response, next: NextFunction) => void | Promise<void>)[],
  handler: (req: Request, res: Response, parsed: Parsed<Out<B>, Out<Q>>) => Promise<void> | void,
): void {
  registry.push(spec as RouteSpec<z.ZodType | undefined, z.ZodType | undefined>);
  router[spec.method](
    spec.path,
    (req: Request, res: Response, next: NextFunction) => {
      // The route pattern for metrics, taken while req.baseUrl still names the mount point.
      res.locals.routeLabel = `${req.baseUrl}${spec.path === "/" ? "" : spec.path}`;
      next();
    },
    ...guards,
    async (req: Request, res: Response) => {
      const bodySchema = spec.body ?? (spec.method === "get" ? undefined : NO_BODY);
      const body = (bodySchema ? parseOr400(bodySchema, req.body ?? {}, "request body") : undefined) as Out<B>;
      const query = (spec.query ? parseOr400(spec.query, req.query, "query string") : undefined) as Out<Q>;
      await handler(req, res, { body, query });
    },
  );
}
