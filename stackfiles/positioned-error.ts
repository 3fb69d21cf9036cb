// An error in a stack file with its position, and the one way it is printed: `path:line:col: message`.

/** One problem in one file, pointing at the offending YAML node (1-based line and column). */
export interface PositionedError {
  /** The file as it was given (relative or absolute). */
  path: string;
  /** 1-based line of the offending node; for a missing key, of its parent. */
  line: number;
  /** 1-based column. */
  col: number;
  /** A plain sentence naming the field and what is allowed. */
  message: string;
  /**
   * Stable machine code: `yaml.*` (the text is not acceptable YAML), `schema.*` (a zod rule; see
   * {@link isJsonSchemaCode}), `file.*` (checks of one file beyond its schema), `set.*`
   * (checks across files) and `owners.*` (the pull-request check's OWNERS rules, stackrepo/owners.ts).
   */
  code: string;
}

/** `path:line:col: message`, as the CLI, the PR check and the portal print it. */
export function formatPositionedError(e: PositionedError): string {
  return `${e.path}:${e.line}:${e.col}: ${e.message}`;
}

/** Orders errors by path, then position, then message, so output never depends on check order. */
export function compareErrors(a: PositionedError, b: PositionedError): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line || a.col - b.col || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0);
}

/**
 * Whether an error's rule is one the generated JSON Schema also expresses (types, enums, ranges,
 * patterns, required and unknown keys). `schema.custom` (zod refinements), `file.*`, `set.*` and
 * `yaml.*` are checked by the validator alone.
 */
export function isJsonSchemaCode(code: string): boolean {
  return code.startsWith("schema.") && code !== "schema.custom";
}
