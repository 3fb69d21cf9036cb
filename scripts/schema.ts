// `proxstack schema [--kind platform|user] [--write|--check]`: the JSON Schema of the stack files.
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { jsonSchemaText, SCHEMA_FILES, SCHEMA_KINDS, type SchemaKind } from "../stackfiles/json-schema.js";
import { EXIT, parseFlags, UsageError, type CliIo, type Command } from "./cli.js";

const HELP = `Usage: proxstack schema [--kind platform|user] [--write | --check]

Prints the JSON Schema (draft-07) generated from the zod schemas: of the platform file,
of a user stack file, or (without --kind) of either.

  --kind K   platform or user
  --write    regenerate the committed ${SCHEMA_FILES.platform} and ${SCHEMA_FILES.user}
  --check    exit 1 when those committed files are stale
`;

const fileOf = (kind: SchemaKind) => fileURLToPath(new URL(`../${SCHEMA_FILES[kind]}`, import.meta.url));

export const command: Command = {
  summary: "print the JSON Schema of the stack files",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(args, { kind: { type: "string" }, write: { type: "boolean" }, check: { type: "boolean" } }, false);
    void positionals;
    const kind = values.kind;
    if (kind !== undefined && !(SCHEMA_KINDS as readonly string[]).includes(kind)) {
      throw new UsageError(`--kind must be one of ${SCHEMA_KINDS.join(", ")}, got '${kind}'`);
    }
    if (values.write && values.check) throw new UsageError("--write and --check exclude each other");
    if (values.write || values.check) {
      let stale = 0;
      for (const k of SCHEMA_KINDS) {
        const want = jsonSchemaText(k);
        const have = await readFile(fileOf(k), "utf8").catch(() => "");
        if (have === want) continue;
        if (values.write) {
          await writeFile(fileOf(k), want);
          io.stderr(`wrote ${SCHEMA_FILES[k]}\n`);
        } else {
          io.stderr(`${SCHEMA_FILES[k]} is stale; run: proxstack schema --write\n`);
          stale++;
        }
      }
      return stale === 0 ? EXIT.ok : EXIT.failed;
    }
    io.stdout(jsonSchemaText(kind as SchemaKind | undefined));
    return EXIT.ok;
  },
};
