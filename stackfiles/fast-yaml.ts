// The fast path for plain stack files: js-yaml on text without the YAML features that make reading
// hostile or ambiguous; anything unusual returns undefined (take the slow path).
import { FAILSAFE_SCHEMA, load, Type, type State } from "js-yaml";
import { ProxstackError } from "../lib/errors.js";

/**
 * Text the fast path refuses outright (any false positive only costs the slow path's time): tabs
 * and carriage returns; tags (`!` anywhere); merge keys; document markers and directives at a line
 * start; block scalar headers (`|`, `>` ending a line); explicit `?` keys; a collection as a key
 * (`]:` / `}:`), which the two libraries turn into different property names. Anchors are refused
 * while loading, and without anchors an alias cannot load.
 */
const HOSTILE = /[\t\r!]|<<|^(?:---|\.\.\.)(?=[ \n]|$)|^%|[|>][-+0-9]*[ ]*(?:#.*)?$|(?:^|[\s,[{])\?(?=[ \n]|$)|[\]}][ ]*:(?=[ \n]|$)/m;

// Integers and floats (load only) exactly as the `yaml` library's core schema resolves plain
// scalars (yaml/dist/schema/core): js-yaml's own also accept `1_000` and `0b1`.
const INT = /^[-+]?[0-9]+$/;
const OCT = /^0o[0-7]+$/;
const HEX = /^0x[0-9a-fA-F]+$/;
const SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

const nullType = new Type("tag:yaml.org,2002:null", {
  kind: "scalar",
  resolve: (s: string) => /^(?:~|[Nn]ull|NULL)?$/.test(s),
  construct: () => null,
});
const boolType = new Type("tag:yaml.org,2002:bool", {
  kind: "scalar",
  resolve: (s: string) => /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(s),
  construct: (s: string) => s[0] === "t" || s[0] === "T",
});
const intType = new Type("tag:yaml.org,2002:int", {
  kind: "scalar",
  resolve: (s: string) => INT.test(s) || OCT.test(s) || HEX.test(s),
  construct: (s: string) => (INT.test(s) ? parseInt(s, 10) : parseInt(s.slice(2), OCT.test(s) ? 8 : 16)),
});
const floatType = new Type("tag:yaml.org,2002:float", {
  kind: "scalar",
  resolve: (s: string) => SPECIAL.test(s) || EXP.test(s) || FLOAT.test(s),
  construct: (s: string) =>
    SPECIAL.test(s) ? (s.slice(-3).toLowerCase() === "nan" ? NaN : s.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY) : parseFloat(s),
});
const SCHEMA = FAILSAFE_SCHEMA.extend({ implicit: [nullType, boolType, intType, floatType] });

/** Thrown from the load listener to stop at the first anchor. */
const ANCHOR = new ProxstackError("fast-yaml.anchor", "anchor", { kind: "bug" });

function refuseAnchors(this: State, event: string, state: State): void {
  if (event === "close" && (state as State & { anchor: string | null }).anchor !== null) throw ANCHOR;
}

/**
 * The plain data of a single-document YAML text, or undefined when the text uses anything the
 * fast path leaves to the `yaml` library (or is not readable at all). Never throws.
 * @example fastYamlData("kind: UserStack\n") // → { kind: "UserStack" }
 */
export function fastYamlData(text: string): unknown {
  if (HOSTILE.test(text)) return undefined;
  try {
    return load(text, { schema: SCHEMA, json: false, listener: refuseAnchors });
  } catch {
    return undefined;
  }
}
