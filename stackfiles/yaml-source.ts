// Reading one stack file's bytes as YAML safely (size, UTF-8, one document, unique keys, bounded
// aliases, no tags) and locating any data path in its source.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
import type { PositionedError } from "./positioned-error.js";

/** Largest stack file accepted; a real one is a few KiB. @default 262144 (256 KiB) */
export const MAX_STACK_FILE_BYTES = 256 * 1024;

/** How many alias expansions a file may make (yaml's own count); bounds alias bombs. @default 100 */
export const MAX_ALIAS_COUNT = 100;

export interface ReadOptions {
  /** @default MAX_STACK_FILE_BYTES */
  maxBytes?: number;
  /** @default MAX_ALIAS_COUNT */
  maxAliasCount?: number;
}

/** A path into the data: mapping keys and list indexes. */
export type DataPath = readonly (string | number)[];

/** Where a data path sits in the source. */
export interface Located {
  line: number;
  col: number;
  /** False when the path does not exist; the position is then that of its deepest existing parent. */
  found: boolean;
}

/** One file read as YAML: the Document (with source ranges), its plain data and a locator. */
export interface YamlSource {
  path: string;
  text: string;
  doc: Document;
  data: unknown;
  /** Position of the value at `path`, or of its key when `key` is true (used for unknown keys). */
  locate(path: DataPath, opts?: { key?: boolean }): Located;
}

export type ReadResult = { ok: true; source: YamlSource } | { ok: false; errors: PositionedError[] };

/**
 * The checks before any YAML parsing: size, UTF-8 (bytes only; strings are taken as decoded), a
 * leading BOM dropped, bracket nesting bounded. Never throws.
 */
/** A read that failed at one position (module-level: a closure per file costs a name under tsx). */
function failAt(path: string, line: number, col: number, code: string, message: string): { ok: false; errors: PositionedError[] } {
  return { ok: false, errors: [{ path, line, col, code, message }] };
}

export function decodeStackText(
  path: string,
  content: string | Uint8Array,
  opts: ReadOptions = {},
): { ok: true; text: string } | { ok: false; errors: PositionedError[] } {
  const maxBytes = opts.maxBytes ?? MAX_STACK_FILE_BYTES;
  const size = typeof content === "string" ? Buffer.byteLength(content, "utf8") : content.byteLength;
  if (size > maxBytes) {
    return failAt(path, 1, 1, "yaml.too-large", `the file is ${size} bytes; a stack file may be at most ${maxBytes} bytes`);
  }
  let text: string;
  if (typeof content === "string") {
    text = content;
  } else {
    const bad = firstInvalidUtf8(content);
    if (bad !== -1) {
      const before = new TextDecoder().decode(content.subarray(0, bad));
      const { line, col } = lineCol(before, before.length);
      return failAt(
        path,
        line,
        col,
        "yaml.not-utf8",
        `the file is not valid UTF-8 (byte 0x${content[bad]?.toString(16).padStart(2, "0")} at offset ${bad}); save it as UTF-8`,
      );
    }
    text = new TextDecoder().decode(content);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const deep = tooDeep(text);
  if (deep !== undefined) {
    const { line, col } = lineCol(text, deep);
    return failAt(path, line, col, "yaml.too-deep", `brackets nest more than ${MAX_FLOW_DEPTH} levels deep here; a stack file needs only a few`);
  }

  const crowded = tooCrowded(text);
  if (crowded !== undefined) {
    const { line } = lineCol(text, crowded.offset);
    return failAt(
      path,
      line,
      1,
      crowded.what === "lines" ? "yaml.too-many-lines" : "yaml.too-many-entries",
      crowded.what === "lines"
        ? `the file has more than ${MAX_STACK_FILE_LINES} lines; a stack file needs a few hundred at most`
        : `the file has more than ${MAX_STACK_FILE_ENTRIES} keys and list items (this is number ${MAX_STACK_FILE_ENTRIES + 1}); a stack file needs a few hundred at most`,
    );
  }

  return { ok: true, text };
}

/**
 * Reads a file's content as one YAML document. Bytes are checked for UTF-8 (strings are taken as
 * already decoded). Never throws: every refusal is a positioned error.
 */
export function readYaml(path: string, content: string | Uint8Array, opts: ReadOptions = {}): ReadResult {
  const decoded = decodeStackText(path, content, opts);
  if (!decoded.ok) return decoded;
  const text = decoded.text;
  const fail = (line: number, col: number, code: string, message: string): ReadResult => ({
    ok: false,
    errors: [{ path, line, col, code, message }],
  });

  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, keepSourceTokens: false });
  } catch (err) {
    // The composer recurses; absurd nesting can exhaust the stack. Refuse rather than crash.
    return fail(1, 1, "yaml.unreadable", `the file could not be read as YAML (${err instanceof Error ? err.message : String(err)})`);
  }
  const pos = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  // After a syntax error the parser's later complaints are mostly echoes of it: report the first.
  // Duplicate keys and unknown tags are independent of each other, so all of those are reported.
  const syntax = doc.errors.filter((e) => e.code !== "DUPLICATE_KEY");
  const problems = syntax.length > 0 ? syntax.slice(0, 1) : [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    return {
      ok: false,
      errors: problems.map((e) => {
        const { line, col } = pos(e.pos[0]);
        return { path, line, col, code: `yaml.${e.code.toLowerCase().replace(/_/g, "-")}`, message: yamlMessage(e.code, e.message, keyAt(text, e.pos[0])) };
      }),
    };
  }
  if (doc.contents === null) {
    return fail(1, 1, "yaml.empty", "the file is empty; a stack file is a mapping that starts with apiVersion and kind");
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: opts.maxAliasCount ?? MAX_ALIAS_COUNT });
  } catch (err) {
    const at = firstAliasOffset(doc);
    const { line, col } = at === undefined ? { line: 1, col: 1 } : pos(at);
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      return fail(
        line,
        col,
        "yaml.alias-limit",
        `aliases expand too much (more than ${opts.maxAliasCount ?? MAX_ALIAS_COUNT} expansions); write the values out instead of nesting aliases`,
      );
    }
    return fail(line, col, "yaml.unreadable", `the file could not be read as YAML (${err instanceof Error ? err.message : String(err)})`);
  }

  const locate = (p: DataPath, o: { key?: boolean } = {}): Located => {
    const found = findNode(doc, p, o.key === true);
    const range = found.node?.range ?? doc.contents?.range ?? [0, 0, 0];
    return { ...pos(range[0]), found: found.found };
  };
  return { ok: true, source: { path, text, doc, data, locate } };
}

interface Found {
  node: Node | null | undefined;
  found: boolean;
}

/** Walks the Document along a data path, following aliases; stops at the deepest existing node. */
function findNode(doc: Document, path: DataPath, wantKey: boolean): Found {
  let cur: Node | null | undefined = doc.contents as Node | null;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isAlias(cur)) cur = cur.resolve(doc) as Node | undefined;
    if (isMap(cur)) {
      const pair = cur.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) return { node: cur, found: false };
      const last = i === path.length - 1;
      // A key with no value (`plan:`) has no value node; its key is the nearest thing to point at.
      if ((last && wantKey) || pair.value === null || pair.value === undefined) {
        if (last) return { node: pair.key as Node, found: true };
        return { node: pair.key as Node, found: false };
      }
      cur = pair.value as Node;
    } else if (isSeq(cur) && typeof seg === "number") {
      const item = cur.items[seg] as Node | undefined;
      if (item === undefined || item === null) return { node: cur, found: false };
      cur = item;
    } else {
      return { node: cur, found: false };
    }
  }
  return { node: cur, found: true };
}

function firstAliasOffset(doc: Document): number | undefined {
  let at: number | undefined;
  visit(doc, {
    Alias(_, node) {
      at = node.range?.[0];
      return visit.BREAK;
    },
  });
  return at;
}

/** Plain-words messages for the yaml library's error codes; others keep yaml's first line. */
function yamlMessage(code: string, message: string, source: string): string {
  const firstLine = (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
  switch (code) {
    case "DUPLICATE_KEY":
      return `duplicate key ${JSON.stringify(source)}: each key may appear only once in a mapping`;
    case "MULTIPLE_DOCS":
      return "the file holds more than one YAML document ('---'); a stack file is exactly one document";
    case "TAG_RESOLVE_FAILED":
      return `${firstLine.replace(/^Unresolved tag:/, "unknown tag")}; stack files use plain YAML without tags`;
    default:
      return `YAML syntax: ${firstLine}`;
  }
}

/** Deepest nesting of flow collections accepted; the parser recurses per level. @default 64 */
export const MAX_FLOW_DEPTH = 64;

/**
 * Offset where `[`/`{` nesting first exceeds MAX_FLOW_DEPTH, or undefined. Comments are skipped;
 * brackets inside quoted text count too, which only matters for 64 unclosed brackets in a value.
 */
const [HASH, SPACE, TAB, NEWLINE, OPEN_SQUARE, OPEN_CURLY, CLOSE_SQUARE, CLOSE_CURLY] = [..."# \t\n[{]}"].map((c) => c.charCodeAt(0));
function tooDeep(text: string): number | undefined {
  // Fewer opening brackets in all (comments included) than the limit cannot nest past it: no scan needed.
  let opens = 0;
  for (let i = text.indexOf("["); i !== -1 && opens <= MAX_FLOW_DEPTH; i = text.indexOf("[", i + 1)) opens++;
  for (let i = text.indexOf("{"); i !== -1 && opens <= MAX_FLOW_DEPTH; i = text.indexOf("{", i + 1)) opens++;
  if (opens <= MAX_FLOW_DEPTH) return undefined;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === HASH && (i === 0 || text.charCodeAt(i - 1) === SPACE || text.charCodeAt(i - 1) === TAB || text.charCodeAt(i - 1) === NEWLINE)) {
      const nl = text.indexOf("\n", i);
      if (nl === -1) return undefined;
      i = nl;
    } else if (ch === OPEN_SQUARE || ch === OPEN_CURLY) {
      if (++depth > MAX_FLOW_DEPTH) return i;
    } else if ((ch === CLOSE_SQUARE || ch === CLOSE_CURLY) && depth > 0) {
      depth--;
    }
  }
  return undefined;
}

/**
 * Most lines a stack file may have. The YAML reader's cost grows faster than the size (a 256 KiB file
 * of 32k keys took seconds of blocked event loop), so size alone is no bound. @default 5000
 */
export const MAX_STACK_FILE_LINES = 5000;

/** Most keys and list items (block or flow) a stack file may have; a real one has a few hundred. @default 2000 */
export const MAX_STACK_FILE_ENTRIES = 2000;

// What starts an entry, over-counted on purpose (a colon or comma inside a value counts too): a key's
// colon (before a space, a flow delimiter or the line end; or right after a quote), a block list dash,
// a flow separator.
const ENTRY = /:(?=[\s,\]}]|$)|["']:|(?:^|[\s[])-(?=\s|$)|,/gm;

/** Where the text first exceeds the line or the entry limit (whichever comes first), counted without parsing. */
function tooCrowded(text: string): { what: "lines" | "entries"; offset: number } | undefined {
  // Every line and every entry takes at least one character: a text no longer than the smaller limit is within both.
  if (text.length <= Math.min(MAX_STACK_FILE_LINES, MAX_STACK_FILE_ENTRIES)) return undefined;
  let lines: { what: "lines"; offset: number } | undefined;
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < text.length - 1; i = text.indexOf("\n", i + 1)) {
    if (++line > MAX_STACK_FILE_LINES) {
      lines = { what: "lines", offset: i + 1 };
      break;
    }
  }
  let entries = 0;
  for (const m of text.matchAll(ENTRY)) {
    if (lines && m.index > lines.offset) break;
    if (++entries > MAX_STACK_FILE_ENTRIES) return { what: "entries", offset: m.index };
  }
  return lines;
}

/** The key written at an offset (for duplicate-key messages), without quotes. */
function keyAt(text: string, offset: number): string {
  const m = /^(?:"([^"]*)"|'([^']*)'|([^:\n]*?))\s*:/.exec(text.slice(offset, offset + 300));
  return (m?.[1] ?? m?.[2] ?? m?.[3] ?? text.slice(offset, offset + 20).split("\n")[0] ?? "").trim();
}

/** 1-based line and column (in UTF-16 code units + 1) of an offset in text. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

/** Offset of the first byte that breaks UTF-8 (overlongs, surrogates and > U+10FFFF included), or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] ?? 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) [need, min, cp] = [1, 0x80, c & 0x1f];
    else if (c >= 0xe0 && c <= 0xef) [need, min, cp] = [2, 0x800, c & 0x0f];
    else if (c >= 0xf0 && c <= 0xf4) [need, min, cp] = [3, 0x10000, c & 0x07];
    else return i;
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = cp * 64 + (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}
