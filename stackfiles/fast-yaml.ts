// The fast path for plain stack files: js-yaml's event parser on text without the YAML features
// that make reading hostile or ambiguous; anything unusual returns undefined (take the slow path).
import {
  boolCoreTag,
  constructFromEvents,
  defineScalarTag,
  EVENT_ID,
  FAILSAFE_SCHEMA,
  NOT_RESOLVED,
  nullCoreTag,
  parseEvents,
  SCALAR_STYLE,
  type Event,
} from "js-yaml";

/**
 * Text the fast path refuses outright: tabs and carriage returns anywhere, merge keys, document
 * markers and directives at a line start. Anchors, aliases, tags, block scalars and non-plain keys
 * are refused from the parser's events. Any false positive only costs the slow path's time.
 */
const HOSTILE = /[\t\r]|<<|^(?:---|\.\.\.)(?=[ \n]|$)|^%/m;

/** Plain keys whose value both readers are sure to turn into the same property name. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const NULL_OR_BOOL_KEY = /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE)$/;

// Integers and floats (load only) exactly as the `yaml` library's core schema resolves plain scalars
// (yaml/dist/schema/core), so both paths produce the same numbers.
const intTag = defineScalarTag("tag:yaml.org,2002:int", {
  implicit: true,
  implicitFirstChars: ["-", "+", ..."0123456789"],
  resolve: (s) => {
    if (/^[-+]?[0-9]+$/.test(s)) return parseInt(s, 10);
    if (/^0o[0-7]+$/.test(s)) return parseInt(s.slice(2), 8);
    if (/^0x[0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
    return NOT_RESOLVED;
  },
  identify: () => false,
});
const floatTag = defineScalarTag("tag:yaml.org,2002:float", {
  implicit: true,
  implicitFirstChars: ["-", "+", ".", ..."0123456789"],
  resolve: (s) => {
    if (/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(s)) {
      return s.slice(-3).toLowerCase() === "nan" ? NaN : s.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    }
    if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(s) || /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(s)) return parseFloat(s);
    return NOT_RESOLVED;
  },
  identify: () => false,
});
const SCHEMA = FAILSAFE_SCHEMA.withTags(nullCoreTag, boolCoreTag, intTag, floatTag);

/**
 * The plain data of a single-document YAML text, or undefined when the text uses anything the
 * fast path leaves to the `yaml` library (or is not readable at all). Never throws.
 * @example fastYamlData("kind: UserStack\n") // → { kind: "UserStack" }
 */
export function fastYamlData(text: string): unknown {
  if (HOSTILE.test(text)) return undefined;
  let events: Event[];
  try {
    events = parseEvents(text, { maxDepth: 64 });
  } catch {
    return undefined;
  }
  if (!plainEvents(text, events)) return undefined;
  try {
    const docs = constructFromEvents(events, { source: text, schema: SCHEMA, json: false, maxAliases: 0 });
    return docs.length === 1 ? docs[0] : undefined;
  } catch {
    return undefined;
  }
}

/** One document; no anchors, aliases, tags or block scalars; every mapping key a simple scalar. */
function plainEvents(text: string, events: readonly Event[]): boolean {
  let documents = 0;
  // Per open collection: whether it is a mapping, and how many children it has seen.
  const open: { map: boolean; n: number }[] = [];
  for (const e of events) {
    if (e.type === EVENT_ID.DOCUMENT) {
      if (++documents > 1 || e.directives.length > 0 || e.explicitStart || e.explicitEnd) return false;
      continue;
    }
    if (e.type === EVENT_ID.POP) {
      open.pop();
      continue;
    }
    if (e.type === EVENT_ID.ALIAS || e.anchorStart !== -1 || e.tagStart !== -1) return false;
    const parent = open[open.length - 1];
    const isKey = parent !== undefined && parent.map && parent.n % 2 === 0;
    if (parent) parent.n++;
    if (e.type === EVENT_ID.SCALAR) {
      if (e.style === SCALAR_STYLE.LITERAL_BLOCK || e.style === SCALAR_STYLE.FOLDED_BLOCK) return false;
      if (isKey && e.style === SCALAR_STYLE.PLAIN) {
        const key = text.slice(e.valueStart, e.valueEnd);
        if (!PLAIN_KEY.test(key) || NULL_OR_BOOL_KEY.test(key)) return false;
      }
    } else {
      if (isKey) return false;
      open.push({ map: e.type === EVENT_ID.MAPPING, n: 0 });
    }
  }
  return documents === 1;
}
