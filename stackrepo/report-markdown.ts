// The check report as one Markdown pull-request comment: verdict, a table per stack, problems with file:line:col, details collapsed, bounded length.
import { formatPositionedError, type PositionedError } from "../stackfiles/positioned-error.js";
import type { CheckReport, StackChange } from "./check.js";

/** First line of every report: CI finds its earlier comment by it and updates that one instead of adding another. */
export const REPORT_MARKER = "<!-- proxstack-check -->";

/** GitHub refuses comments over 65,536 characters; stay well below. @default 60000 */
export const MAX_REPORT_CHARS = 60_000;

/** Items listed per list before "… and N more". */
const LIST_LIMIT = 50;

export interface MarkdownOptions {
  /** Upper bound of the report's length in characters. @default MAX_REPORT_CHARS */
  maxChars?: number;
  /** A heading other than "proxstack check" (rollback shows the same report). */
  title?: string;
}

/**
 * Renders the report. The verdict, the summary table and the failures always fit; details are added in
 * order while the budget lasts, and a cut says how to see the rest. Open `<details>` are always closed.
 */
export function renderMarkdown(report: CheckReport, opts: MarkdownOptions = {}): string {
  const max = opts.maxChars ?? MAX_REPORT_CHARS;
  const title = opts.title ?? "proxstack check";
  const head: string[] = [
    REPORT_MARKER,
    `### ${title}: ${report.ok ? "✅ passed" : "❌ failed"}`,
    "",
    `Base \`${short(report.base)}\` → \`${short(report.head)}\` · ${plural(report.changedFiles.length, "stack file")} changed${report.platformChanged ? " (including the platform file: every user stack was looked at)" : ""}`,
    "",
  ];
  if (report.failures.length > 0) head.push("**Why it fails:**", ...report.failures.map((f) => `- ${f}`), "");
  if (report.stacks.length > 0) head.push(...summaryTable(report.stacks), "");
  if (!report.ownership.checked) head.push("_Ownership not checked: no `--author` given._", "");

  const foot = [
    "",
    "<sub>Checked from the stack files alone (no Pulumi, no network). Inputs from outside the files — VPN peer addresses — " +
      "are not changed by a file and are not shown; the engine takes them from the last recorded apply.</sub>",
  ];

  const body: string[][] = [];
  const problems = [...report.violations, ...report.ownership.errors];
  if (problems.length > 0) body.push(["#### Problems", "", ...capped(problems.map(problemLine)), ""]);
  for (const s of report.stacks) body.push(stackDetails(s));
  if (report.preexisting.length > 0) {
    body.push([
      `<details><summary>${plural(report.preexisting.length, "error")} already present at the base, in files this change does not touch (not blamed on it)</summary>`,
      "",
      ...capped(report.preexisting.map(problemLine)),
      "",
      "</details>",
      "",
    ]);
  }

  const out = [...head];
  let size = length(out) + length(foot);
  for (let i = 0; i < body.length; i++) {
    const block = body[i] ?? [];
    if (size + length(block) <= max) {
      out.push(...block);
      size += length(block);
      continue;
    }
    const rest = body.length - i;
    const note = `_… ${plural(rest, "more section")} left out to keep this comment under ${max} characters; run \`proxstack check --json\` for everything._`;
    // Problems come first and matter most: fit as many of their lines as the budget allows.
    const partial: string[] = [];
    let depth = 0;
    for (const line of block) {
      if (size + length([...partial, line, note, "</details>"]) > max) break;
      partial.push(line);
      if (line.startsWith("<details>")) depth++;
      if (line === "</details>") depth--;
    }
    if (depth > 0) partial.push("", "</details>");
    out.push(...partial, "", note);
    break;
  }
  out.push(...foot);
  return out.join("\n") + "\n";
}

function summaryTable(stacks: readonly StackChange[]): string[] {
  const rows = ["| stack | created | changed in place | replaced | destroyed | hostnames | points/day |", "|---|---|---|---|---|---|---|"];
  for (const s of stacks.slice(0, LIST_LIMIT)) {
    const { before, after } = s.pointsPerDay;
    rows.push(
      `| ${s.stack}${s.applicable ? "" : " ⚠ invalid, not applied"} | ${s.created.length} | ${s.changed.length} | ${bold(s.replaced.length)} | ${bold(s.destroyed.length)} | +${s.hostnames.added.length} −${s.hostnames.removed.length} | ${points(before)} → ${points(after)}${delta(before, after)} |`,
    );
  }
  if (stacks.length > LIST_LIMIT) rows.push(`| … and ${stacks.length - LIST_LIMIT} more | | | | | | |`);
  return rows;
}

function stackDetails(s: StackChange): string[] {
  const lines = [`<details><summary><b>${s.stack}</b> (${s.path}, ${s.status}): ${verbs(s)}</summary>`, ""];
  if (!s.applicable) lines.push("- the file is invalid after this change: the engine keeps applying its last good state until the problems above are fixed");
  for (const n of s.created) lines.push(`- create \`${n}\``);
  for (const c of s.changed) lines.push(`- change \`${c.instance}\` in place: ${c.fields.join(", ")}`);
  for (const r of s.replaced) lines.push(`- **replace** \`${r.instance}\` (its disk is lost): ${r.reasons.join("; ")}`);
  for (const r of s.destroyed) lines.push(`- **destroy** \`${r.instance}\`: ${r.reasons.join("; ")}`);
  if (s.settings.length > 0) lines.push(`- stack settings changed: ${s.settings.join(", ")}`);
  for (const h of s.hostnames.added) lines.push(`- hostname added: ${h}`);
  for (const h of s.hostnames.removed) lines.push(`- hostname removed: ${h}`);
  const { before, after } = s.pointsPerDay;
  lines.push(`- points per day: ${points(before)} → ${points(after)}${delta(before, after)}`);
  return [...capped(lines), "", "</details>", ""];
}

function verbs(s: StackChange): string {
  const parts = [
    s.created.length ? `${s.created.length} created` : "",
    s.changed.length ? `${s.changed.length} changed in place` : "",
    s.replaced.length ? `${s.replaced.length} replaced` : "",
    s.destroyed.length ? `${s.destroyed.length} destroyed` : "",
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "no container changes";
}

function problemLine(e: PositionedError): string {
  const text = formatPositionedError(e);
  const at = `${e.path}:${e.line}:${e.col}`;
  return `- \`${at}\`${escapeMd(text.slice(at.length))}`;
}

function capped(lines: string[]): string[] {
  return lines.length <= LIST_LIMIT ? lines : [...lines.slice(0, LIST_LIMIT), `- … and ${lines.length - LIST_LIMIT} more`];
}

const escapeMd = (s: string) => s.replace(/[<>]/g, (c) => (c === "<" ? "&lt;" : "&gt;"));
const short = (rev: string) => (/^[0-9a-f]{40}$/.test(rev) ? rev.slice(0, 12) : rev);
const bold = (n: number) => (n > 0 ? `**${n}**` : "0");
const points = (n: number | null) => (n === null ? "–" : String(n));
const delta = (a: number | null, b: number | null) => (a === null || b === null || a === b ? "" : ` (${b > a ? "+" : ""}${b - a})`);
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
const length = (lines: readonly string[]) => lines.reduce((n, l) => n + l.length + 1, 0);
