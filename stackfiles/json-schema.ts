// The JSON Schema of the stack files, generated from the zod schemas (never written by hand).
import { z } from "zod";
import { PlatformSpecSchema, UserStackSpecSchema } from "../schemas/index.js";

export const SCHEMA_KINDS = ["platform", "user"] as const;
export type SchemaKind = (typeof SCHEMA_KINDS)[number];

/** Committed copies under schemas/json/, which the example stacks' modelines point at. */
export const SCHEMA_FILES: Record<SchemaKind, string> = {
  platform: "schemas/json/platform.schema.json",
  user: "schemas/json/user-stack.schema.json",
};

/**
 * The JSON Schema (draft-07, which every YAML editor plugin reads) of one kind of stack file, or of either kind when `kind` is
 * omitted. Input view: keys with defaults are optional, as they are for a person writing the file.
 * Refinements (cross-field rules) cannot be expressed and are left to `proxstack validate`.
 */
export function jsonSchemaOf(kind?: SchemaKind): Record<string, unknown> {
  const schema = kind === "platform" ? PlatformSpecSchema : kind === "user" ? UserStackSpecSchema : z.union([PlatformSpecSchema, UserStackSpecSchema]);
  const title = kind === "platform" ? "proxstack platform file" : kind === "user" ? "proxstack user stack file" : "proxstack stack file";
  return { ...z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-7" }), title };
}

/** The text of a committed schema file: pretty JSON ending in a newline. */
export function jsonSchemaText(kind?: SchemaKind): string {
  return `${JSON.stringify(jsonSchemaOf(kind), null, 2)}\n`;
}
