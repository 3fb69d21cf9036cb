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
// Every plain scalar is offered to each type in turn: a look at its first character spares most the regexes above.
const maybeNumber = (s: string): boolean => s.length > 0 && "-+.0123456789".includes(s.charAt(0));

const nullType = new Type("tag:yaml.org,2002:null", {
  kind: "scalar",
  resolve: (s: string) => (s.length === 0 || "~nN".includes(s.charAt(0))) && NULL.test(s),
  construct: () => null,
});
const boolType = new Type("tag:yaml.org,2002:bool", {
  kind: "scalar",
  resolve: (s: string) => s.length > 0 && "tTfF".includes(s.charAt(0)) && BOOL.test(s),
  construct: (s: string) => s[0] === "t" || s[0] === "T",
});
const intType = new Type("tag:yaml.org,2002:int", {
  kind: "scalar",
  resolve: (s: string) => maybeNumber(s) && (INT.test(s) || OCT.test(s) || HEX.test(s)),
  construct: (s: string) => (INT.test(s) ? parseInt(s, 10) : parseInt(s.slice(2), OCT.test(s) ? 8 : 16)),
});
const floatType = new Type("tag:yaml.org,2002:float", {
  kind: "scalar",
  resolve: (s: string) => maybeNumber(s) && (SPECIAL.test(s) || EXP.test(s) || FLOAT.test(s)),
  construct: (s: string) =>
    SPECIAL.test(s) ? (s.slice(-3).toLowerCase() === "nan" ? NaN : s.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY) : parseFloat(s),
});
const SCHEMA = FAILSAFE_SCHEMA.extend({ implicit: [nullType, boolType, intType, floatType] });

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
