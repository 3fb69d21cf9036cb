// `proxstack cost <file> [--platform FILE] [--json]`: points per day and per month of a user stack.
import { readFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { costOf, DAYS_PER_MONTH } from "../stackfiles/cost.js";
import { formatPositionedError } from "../stackfiles/positioned-error.js";
import { validateStackSet } from "../stackfiles/validate.js";
import { EXIT, parseFlags, UsageError, type CliIo, type Command } from "./cli.js";

const HELP = `Usage: proxstack cost <file> [--platform FILE] [--json]

Prints what a user stack costs: per instance its plan's points per day plus the domains beyond
the platform's free ones, and the total per day and per month (a month is ${DAYS_PER_MONTH} days).

  --platform FILE   the platform file; default: platform.yaml beside <file>
  --json            {perDay, perMonth, daysPerMonth, lines:[{instance, plan, planPerDay, domains, extraDomains, extraDomainsPerDay, perDay}]}

Exit: 0 printed, 1 a file is invalid, 2 usage error.
`;

async function readArg(cwd: string, path: string): Promise<Uint8Array> {
  const abs = resolve(cwd, path);
  const st = await stat(abs).catch(() => undefined);
  if (!st?.isFile()) throw new UsageError(`no such file: ${path}`);
  return readFile(abs);
}

export const command: Command = {
  summary: "points per day / month of a user stack",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(args, { json: { type: "boolean" }, platform: { type: "string" } });
    const [file, ...extra] = positionals;
    if (file === undefined) throw new UsageError("name the user stack file, e.g. proxstack cost stacks/alice.yaml");
    if (extra.length > 0) throw new UsageError(`one file at a time; got also ${extra.join(", ")}`);
    const platformPath = values.platform ?? join(dirname(file), "platform.yaml");
    const report = validateStackSet([
      { path: file, text: await readArg(io.cwd, file) },
      { path: platformPath, text: await readArg(io.cwd, platformPath) },
    ]);
    const user = report.users.find((u) => u.path === file);
    if (!report.platform || !user) {
      for (const e of report.errors) io.stderr(`${formatPositionedError(e)}\n`);
      if (report.errors.length === 0) io.stderr(`${file} is not a user stack file (kind: UserStack)\n`);
      return EXIT.failed;
    }
    const cost = costOf(user.spec, report.platform.spec);
    if (values.json) {
      io.stdout(`${JSON.stringify(cost)}\n`);
      return EXIT.ok;
    }
    const rows = [["instance", "plan", "plan/day", "domains", "extra/day", "points/day"]];
    for (const l of cost.lines) rows.push([l.instance, l.plan, String(l.planPerDay), String(l.domains), String(l.extraDomainsPerDay), String(l.perDay)]);
    const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
    const line = (r: string[]) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join("  ");
    io.stdout(`${file} (${user.spec.name}), plans from ${platformPath}\n`);
    for (const r of rows) io.stdout(`  ${line(r)}\n`);
    io.stdout(`total: ${cost.perDay} points per day, ${cost.perMonth} points per month (${DAYS_PER_MONTH} days)\n`);
    return EXIT.ok;
  },
};
