// The generated JSON Schema: committed copies are fresh, ajv accepts the examples, and ajv agrees with zod on the corpus.
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { fixtureInput, fixtureNames, fixtureSet } from "../test/fixtures/stackfiles/corpus.js";
import { jsonSchemaOf, jsonSchemaText, SCHEMA_FILES, SCHEMA_KINDS, type SchemaKind } from "./json-schema.js";
import { isJsonSchemaCode } from "./positioned-error.js";
import { validateStackSet } from "./validate.js";
import { readYaml } from "./yaml-source.js";

const root = new URL("../", import.meta.url);

function compile(kind?: SchemaKind) {
  const ajv = new Ajv({ allErrors: true, strict: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv.compile(jsonSchemaOf(kind));
}

const validators = { platform: compile("platform"), user: compile("user"), either: compile() };
const validatorFor = (data: unknown) => {
  const kind = (data as { kind?: unknown } | null)?.kind;
  return kind === "Platform" ? validators.platform : kind === "UserStack" ? validators.user : validators.either;
};

describe("committed JSON Schema", () => {
  it.each(SCHEMA_KINDS)("%s schema file is up to date (regenerate: node bin/proxstack.js schema --write)", (kind) => {
    expect(readFileSync(new URL(SCHEMA_FILES[kind], root), "utf8")).toBe(jsonSchemaText(kind));
  });

  it("carries the descriptions written in the zod schemas", () => {
    const user = jsonSchemaOf("user") as { properties: Record<string, { description?: string }> };
    expect(user.properties.linuxUser?.description).toMatch(/Login created in every container/);
  });
});

describe("ajv and the example stacks", () => {
  it.each(["platform", "alice", "bob", "carol"])("%s.yaml is valid", (name) => {
    const data = parse(readFileSync(new URL(`stacks/${name}.yaml`, root), "utf8")) as unknown;
    const validate = validatorFor(data);
    expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
  });

  it("every example points its modeline at the committed schema", () => {
    for (const name of ["platform", "alice", "bob", "carol"]) {
      const first = readFileSync(new URL(`stacks/${name}.yaml`, root), "utf8").split("\n")[0];
      expect(first).toBe(`# yaml-language-server: $schema=../${name === "platform" ? SCHEMA_FILES.platform : SCHEMA_FILES.user}`);
    }
  });
});

// Rules JSON Schema cannot express (zod refinements, checks of one file beyond its schema, and
// checks across files) are reported with codes schema.custom, file.* and set.*; for a fixture
// whose only errors are of those kinds ajv must say valid, otherwise ajv must say invalid.
// Fixtures that are not readable YAML (yaml.*) never reach either schema and are skipped.
describe("ajv agrees with zod on the corpus", () => {
  const readable = fixtureNames().filter((n) => readYaml(n, fixtureInput(n).text).ok);

  it("checks most of the corpus", () => {
    expect(readable.length).toBeGreaterThanOrEqual(60);
  });

  it.each(readable)("%s", (name) => {
    const input = fixtureInput(name);
    const read = readYaml(input.path, input.text);
    if (!read.ok) throw new Error("unreadable");
    const errors = validateStackSet(fixtureSet(name)).errors.filter((e) => e.path === input.path);
    const expressible = errors.some((e) => isJsonSchemaCode(e.code));
    const validate = validatorFor(read.source.data);
    expect(validate(read.source.data), `zod codes: ${errors.map((e) => e.code).join(", ")}; ajv: ${JSON.stringify(validate.errors?.slice(0, 2))}`).toBe(
      !expressible,
    );
  });
});
