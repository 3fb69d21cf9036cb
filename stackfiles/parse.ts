// Parsing one stack file: safe YAML, then its schema by `kind`, then the checks one file allows alone.
import { basename } from "node:path";
import { Document } from "yaml";
import { PlatformSpecSchema, UserStackSpecSchema, type PlatformSpec, type UserStackSpec } from "../schemas/index.js";
import { compareErrors, type PositionedError } from "./positioned-error.js";
import { deferMessages, issuesToErrors } from "./schema-issues.js";
import { sshKeyProblem } from "./ssh-keys.js";
import { fastYamlData } from "./fast-yaml.js";
import { decodeStackText, readYaml, type DataPath, type Located, type ReadOptions, type YamlSource } from "./yaml-source.js";

export const STACK_KINDS = ["Platform", "UserStack"] as const;
export type StackKind = (typeof STACK_KINDS)[number];

export type ParsedStackFile =
  | { ok: true; kind: "Platform"; spec: PlatformSpec; doc: Document; source: YamlSource }
  | { ok: true; kind: "UserStack"; spec: UserStackSpec; doc: Document; source: YamlSource }
  | {
      ok: false;
      errors: PositionedError[];
      /** The kind the file declares, when it declares a known one. */
      kind?: StackKind;
      /** Present when the text was readable YAML (the schema or a file check failed). */
      source?: YamlSource;
    };

export interface ParseOptions extends ReadOptions {
  /** Read plain valid user files without the `yaml` Document (built on demand). Off only to compare both paths in tests. @default true */
  fastPath?: boolean;
}

/** The stack name a file must carry: its base name without .yaml/.yml, or undefined for other paths. */
export function stackNameOfPath(path: string): string | undefined {
  const m = /^(.*)\.ya?ml$/.exec(basename(path));
  return m?.[1];
}

/**
 * Parses and checks one stack file. Never throws; errors are sorted by position.
 * @example parseStackFile("stacks/alice.yaml", text) // → { ok: true, kind: "UserStack", spec, doc, source }
 */
export function parseStackFile(path: string, content: string | Uint8Array, opts: ParseOptions = {}): ParsedStackFile {
  return (opts.fastPath === false ? undefined : parseStackFileFast(path, content, opts)) ?? parseWithPositions(path, content, opts);
}

/**
 * The fast path: a plain user file (see fast-yaml.ts) that passes its schema and every check of
 * one file is returned without the `yaml` library's Document, which is built only when someone
 * asks for `doc` or a position (a cross-file check blaming this file). Any problem, or any file
 * that is not a plain user file, returns undefined so the slow path reports it with positions.
 * Exported for the parity tests; callers use {@link parseStackFile}.
 */
export function parseStackFileFast(path: string, content: string | Uint8Array, opts: ParseOptions = {}): ParsedStackFile | undefined {
  const decoded = decodeStackText(path, content, opts);
  if (!decoded.ok) return undefined;
  const data = fastYamlData(decoded.text);
  if (data === null || typeof data !== "object" || Array.isArray(data) || (data as Record<string, unknown>).kind !== "UserStack") return undefined;
  const r = UserStackSpecSchema.safeParse(data, { error: deferMessages });
  if (!r.success) return undefined;
  const source = lazySource(path, decoded.text, data, () => readYaml(path, content, opts));
  if (userFileChecks(source, r.data).length > 0) return undefined;
  return {
    ok: true,
    kind: "UserStack",
    spec: r.data,
    get doc() {
      return source.doc;
    },
    source,
  };
}

/**
 * A YamlSource whose Document (and so every position) is read by the slow path on first use.
 * Should the slow path ever refuse a file the fast path accepted (the parity tests say it does
 * not), positions fall back to 1:1 and the Document to one built from the data, so validation
 * still never throws.
 */
function lazySource(path: string, text: string, data: unknown, read: () => ReturnType<typeof readYaml>): YamlSource {
  return new LazySource(path, text, data, read);
}

class LazySource implements YamlSource {
  private slow: YamlSource | undefined;
  constructor(
    readonly path: string,
    readonly text: string,
    readonly data: unknown,
    private readonly read: () => ReturnType<typeof readYaml>,
  ) {}
  private load(): YamlSource {
    if (this.slow) return this.slow;
    const r = this.read();
    this.slow = r.ok
      ? r.source
      : { path: this.path, text: this.text, data: this.data, doc: new Document(this.data), locate: () => ({ line: 1, col: 1, found: false }) };
    return this.slow;
  }
  get doc(): Document {
    return this.load().doc;
  }
  locate(p: DataPath, o?: { key?: boolean }): Located {
    return this.load().locate(p, o);
  }
}

/** The slow path: the `yaml` library's Document, so every error carries its line and column. */
function parseWithPositions(path: string, content: string | Uint8Array, opts: ParseOptions): ParsedStackFile {
  const read = readYaml(path, content, opts);
  if (!read.ok) return { ok: false, errors: read.errors };
  const source = read.source;
  const data = source.data;
  const at = (p: (string | number)[], code: string, message: string): PositionedError => ({ path, ...pick(source.locate(p)), code, message });

  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return {
      ok: false,
      source,
      errors: [
        at(
          [],
          "schema.invalid_type",
          `the file must be a mapping of keys to values (apiVersion, kind, …), not ${Array.isArray(data) ? "a list" : "a single value"}`,
        ),
      ],
    };
  }
  const kind = (data as Record<string, unknown>).kind;
  if (kind === undefined) {
    return {
      ok: false,
      source,
      errors: [at([], "schema.invalid_value", `the file is missing the required key "kind": one of ${STACK_KINDS.map((k) => JSON.stringify(k)).join(", ")}`)],
    };
  }
  if (kind !== "Platform" && kind !== "UserStack") {
    return {
      ok: false,
      source,
      errors: [
        at(["kind"], "schema.invalid_value", `kind must be one of ${STACK_KINDS.map((k) => JSON.stringify(k)).join(", ")}, not ${JSON.stringify(kind)}`),
      ],
    };
  }

  if (kind === "Platform") {
    const r = PlatformSpecSchema.safeParse(data, { error: deferMessages });
    if (!r.success) return { ok: false, kind, source, errors: issuesToErrors(source, PlatformSpecSchema, r.error.issues).sort(compareErrors) };
    return { ok: true, kind, spec: r.data, doc: source.doc, source };
  }
  const r = UserStackSpecSchema.safeParse(data, { error: deferMessages });
  if (!r.success) return { ok: false, kind, source, errors: issuesToErrors(source, UserStackSpecSchema, r.error.issues).sort(compareErrors) };
  const errors = userFileChecks(source, r.data);
  if (errors.length > 0) return { ok: false, kind, source, errors: errors.sort(compareErrors) };
  return { ok: true, kind, spec: r.data, doc: source.doc, source };
}

/** Checks of one user file beyond its schema: its name, its SSH keys, its instance names. */
/** Adds an error at a data path (module-level: a closure per file costs a name under tsx). */
function pushAt(errors: PositionedError[], source: YamlSource, p: (string | number)[], code: string, message: string): void {
  errors.push({ path: source.path, ...pick(source.locate(p)), code, message });
}

function userFileChecks(source: YamlSource, spec: UserStackSpec): PositionedError[] {
  const errors: PositionedError[] = [];

  const expected = stackNameOfPath(source.path);
  if (expected !== undefined && spec.name !== expected) {
    pushAt(
      errors,
      source,
      ["name"],
      "file.name-mismatch",
      `name must equal the file name: the stack in ${JSON.stringify(basename(source.path))} must be named ${JSON.stringify(expected)}, not ${JSON.stringify(spec.name)}`,
    );
  }

  const seenKeys = new Map<string, number>();
  spec.sshKeys.forEach((line, i) => {
    const problem = sshKeyProblem(line);
    if (problem) pushAt(errors, source, ["sshKeys", i], "file.ssh-key", `sshKeys[${i}] ${problem}`);
    const body = line.split(" ").slice(0, 2).join(" ");
    const first = seenKeys.get(body);
    if (first === undefined) seenKeys.set(body, i);
    else
      pushAt(
        errors,
        source,
        ["sshKeys", i],
        "file.ssh-key-duplicate",
        `sshKeys[${i}] is the same key as sshKeys[${first}] (line ${source.locate(["sshKeys", first]).line}); list each key once`,
      );
  });

  const seenNames = new Map<string, number>();
  spec.instances.forEach((inst, i) => {
    const first = seenNames.get(inst.name);
    if (first === undefined) seenNames.set(inst.name, i);
    else
      pushAt(
        errors,
        source,
        ["instances", i, "name"],
        "file.instance-duplicate",
        `instances[${i}].name ${JSON.stringify(inst.name)} is already used by instances[${first}] (line ${source.locate(["instances", first, "name"]).line}); instance names must be unique within a stack`,
      );
  });
  return errors;
}

function pick(l: { line: number; col: number }): { line: number; col: number } {
  return { line: l.line, col: l.col };
}
