// The fast path for plain stack files: js-yaml on text without the YAML features that make reading
// hostile or ambiguous; anything unusual returns undefined (take the slow path).
import { FAILSAFE_SCHEMA, load, Type } from "js-yaml";

/**
 * Text the fast path refuses outright (any false positive only costs the slow path's time): tabs
 * and carriage returns; tags (`!` anywhere); merge keys; document markers and directives at a line
 * start; block scalar headers (`|`, `>` ending a line); explicit `?` keys; a collection as a key
 * (`]:` / `}:`), which the two libraries turn into different property names; and `&` anywhere, so
 * no anchor is ever loaded (and without anchors an alias cannot load). Refusing `&` in the text costs
 * the rare file with one in a string the slow path; a listener refusing anchors while loading cost
 * every file a call per node.
 */
const HOSTILE = /[\t\r!&]|<<|^(?:---|\.\.\.)(?=[ \n]|$)|^%|[|>][-+0-9]*[ ]*(?:#.*)?$|(?:^|[\s,[{])\?(?=[ \n]|$)|[\]}][ ]*:(?=[ \n]|$)/m;

// Integers and floats (load only) exactly as the `yaml` library's core schema resolves plain
// scalars (yaml/dist/schema/core): js-yaml's own also accept `1_000` and `0b1`.
const INT = /^[-+]?[0-9]+$/;
const OCT = /^0o[0-7]+$/;
const HEX = /^0x[0-9a-fA-F]+$/;
const SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
/** A plain scalar that none of null, bool, int and float take: it stays a string. */
const STRING = Symbol("string");

/**
 * A plain scalar as the core schema reads it: null, bool, int or float (tried in that order), else {@link STRING}.
 * One resolver for the four, dispatching on the first character: js-yaml offers every plain scalar (keys
 * included) to each implicit type in turn, so four types cost four calls and up to eight regexes per scalar.
 */
function coreScalar(s: string): null | boolean | number | typeof STRING {
  if (s.length === 0) return null;
  const c = s.charCodeAt(0);
  // ~ n N
  if (c === 126 || c === 110 || c === 78) return NULL.test(s) ? null : STRING;
  // t T f F
  if (c === 116 || c === 84 || c === 102 || c === 70) return BOOL.test(s) ? c === 116 || c === 84 : STRING;
  // - + . 0-9
  if (c === 45 || c === 43 || c === 46 || (c >= 48 && c <= 57)) {
    if (INT.test(s)) return parseInt(s, 10);
    if (OCT.test(s)) return parseInt(s.slice(2), 8);
    if (HEX.test(s)) return parseInt(s.slice(2), 16);
    if (SPECIAL.test(s)) return s.slice(-3).toLowerCase() === "nan" ? NaN : s.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    if (EXP.test(s) || FLOAT.test(s)) return parseFloat(s);
  }
  return STRING;
}

const coreScalarType = new Type("tag:proxstack.dev,2026:core-scalar", {
  kind: "scalar",
  resolve: (s: string) => coreScalar(s) !== STRING,
  construct: (s: string) => coreScalar(s),
});
const SCHEMA = FAILSAFE_SCHEMA.extend({ implicit: [coreScalarType] });

/**
 * The plain data of a single-document YAML text, or undefined when the text uses anything the
 * fast path leaves to the `yaml` library (or is not readable at all). Never throws.
 * @example fastYamlData("kind: UserStack\n") // → { kind: "UserStack" }
 */
export function fastYamlData(text: string): unknown {
  if (HOSTILE.test(text)) return undefined;
  try {
    return load(text, { schema: SCHEMA, json: false });
  } catch {
    return undefined;
  }
}
