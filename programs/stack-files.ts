// Reads and validates stack files for the Pulumi CLI entry (and tests): YAML + zod, errors as path:line:col.
import fs from "node:fs";
import path from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { ProxstackError } from "../lib/errors.js";
import { PlatformSpecSchema, UserStackSpecSchema, type PlatformSpec, type UserStackSpec } from "../schemas/index.js";
import { PLATFORM_FILE, stackFileName } from "./naming.js";

/** Reads `platform.yaml` from the stacks directory; throws a stall error listing every problem. */
export function readPlatformFile(stacksDir: string): PlatformSpec {
  return readFile(path.join(stacksDir, PLATFORM_FILE), PlatformSpecSchema);
}

/** Reads `<user>.yaml`; its `name` must equal the file name. */
export function readUserFile(stacksDir: string, user: string): UserStackSpec {
  const file = path.join(stacksDir, stackFileName(user));
  const spec = readFile(file, UserStackSpecSchema);
  if (spec.name !== user) {
    throw new ProxstackError("invalid-stack-file", `${file}:1:1: name is "${spec.name}" but the file is ${stackFileName(user)}; they must match`, { kind: "stall" });
  }
  return spec;
}

/** Every user stack file in the directory (all `*.yaml` but platform.yaml), sorted by name; any invalid file fails the whole read. */
export function readAllUserFiles(stacksDir: string): UserStackSpec[] {
  const names = fs.readdirSync(stacksDir)
    .filter((f) => f.endsWith(".yaml") && f !== PLATFORM_FILE)
    .map((f) => f.slice(0, -".yaml".length))
    .sort();
  const specs: UserStackSpec[] = [];
  const problems: string[] = [];
  for (const n of names) {
    try {
      specs.push(readUserFile(stacksDir, n));
    } catch (e) {
      if (!(e instanceof ProxstackError)) throw e;
      problems.push(e.message);
    }
  }
  if (problems.length > 0) throw new ProxstackError("invalid-stack-file", problems.join("\n"), { kind: "stall" });
  return specs;
}

function readFile<S extends z.ZodType>(file: string, schema: S): z.infer<S> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new ProxstackError("stack-file-missing", `${file}: cannot read the stack file`, { kind: "stall", cause: e });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const msgs = doc.errors.map((err) => {
      const pos = lines.linePos(err.pos[0]);
      return `${file}:${pos.line}:${pos.col}: ${err.message.split("\n")[0] ?? "YAML syntax error"}`;
    });
    throw new ProxstackError("invalid-stack-file", msgs.join("\n"), { kind: "stall" });
  }
  const parsed = schema.safeParse(doc.toJS());
  if (!parsed.success) {
    const msgs = parsed.error.issues.map((i) => {
      const { line, col } = positionOf(doc, lines, i.path);
      const where = i.path.length > 0 ? `${i.path.join(".")}: ` : "";
      return `${file}:${line}:${col}: ${where}${i.message}`;
    });
    throw new ProxstackError("invalid-stack-file", msgs.join("\n"), { kind: "stall" });
  }
  return parsed.data;
}

/** Position of the deepest node on `issuePath` that exists (a missing key points at its parent). */
function positionOf(doc: ReturnType<typeof parseDocument>, lines: LineCounter, issuePath: readonly PropertyKey[]): { line: number; col: number } {
  for (let n = issuePath.length; n >= 0; n--) {
    const node = doc.getIn(issuePath.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lines.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}
