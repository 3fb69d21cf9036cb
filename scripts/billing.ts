// `proxstack billing tick|status`: one billing tick now (or at --now), and balances, burn, runway and billed-up-to per stack.
import { openBilling } from "../app/billing.js";
import { billingJson, type StatusReport, type TickReport } from "../billing/service.js";
import { microToPoints } from "../billing/money.js";
import { createLogger } from "../lib/logger.js";
import { loadConfig } from "../schemas/config.js";
import { EXIT, parseFlags, UsageError, type CliIo, type Command } from "./cli.js";

const HELP = `Usage: proxstack billing tick [--now ISO] [--json]
       proxstack billing status [--user STACK] [--json]

tick     bills every instance the engine reports running, from the minute it is billed up to until
         now (or --now), in one transaction: ticks that overlap, run late or run again never charge
         a minute twice. Suspends stacks whose points ran out and resumes topped-up ones (stack-file
         edits committed as "proxstack billing"); sends runway warnings.
status   balance (points and micro-points), burn per day, runway and billed-up-to per instance.
         --json prints {"users":[{"stack","balanceMicro","burnPerDayMicro","runwaySeconds","suspended",
         "instances":[{"name","billedUntil"}]}]}

Reads <data dir>/engine.db and writes <data dir>/billing.db (PROXSTACK_DATA_DIR); logs go to stderr.
Exit codes: 0 done, 1 failed (for tick: a suspension step failed), 2 usage error.
`;

function parseNow(value: string | undefined): Date {
  if (value === undefined) return new Date();
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(d.getTime()))
    throw new UsageError(`--now must be an ISO 8601 time such as 2026-11-30T10:00:00Z, got '${value}'`);
  return d;
}

const duration = (s: bigint | null | undefined): string => {
  if (s === null || s === undefined) return "∞ (nothing running)";
  const n = Number(s);
  return n >= 86_400 ? `${Math.floor(n / 86_400)} d ${Math.floor((n % 86_400) / 3600)} h` : `${Math.floor(n / 3600)} h ${Math.floor((n % 3600) / 60)} min`;
};

function tickText(r: TickReport): string {
  const lines = [`tick at ${r.now}`];
  for (const s of r.stacks) {
    lines.push(
      `  ${s.stack.padEnd(16)} charged ${microToPoints(s.chargedMicro).padStart(12)}  balance ${microToPoints(s.balanceMicro).padStart(12)}  runway ${duration(s.runwaySeconds)}`,
    );
  }
  for (const s of r.suspended) lines.push(`  suspended ${s} (points exhausted)`);
  for (const s of r.resumed) lines.push(`  resumed ${s}`);
  for (const d of r.deleted) lines.push(`  deleted ${d.instances.join(", ") || "(nothing)"} of ${d.stack}`);
  for (const e of r.errors) lines.push(`  error: ${e}`);
  return lines.join("\n") + "\n";
}

function statusText(r: StatusReport): string {
  const lines: string[] = [];
  for (const u of r.users) {
    lines.push(`${u.stack}${u.suspended ? "  [suspended]" : ""}`);
    lines.push(`  balance  ${microToPoints(u.balanceMicro)} points (${u.balanceMicro} micro-points)`);
    lines.push(`  burn     ${microToPoints(u.burnPerDayMicro)} points/day`);
    lines.push(`  runway   ${duration(u.runwaySeconds)}`);
    for (const i of u.instances) lines.push(`  ${i.name.padEnd(16)} billed up to ${i.billedUntil ?? "(never billed)"}`);
  }
  return lines.join("\n") + "\n";
}

async function withBilling<T>(io: CliIo, now: Date, fn: (b: ReturnType<typeof openBilling>) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env, io.cwd);
  const log = createLogger(config.logLevel === "info" ? "warn" : config.logLevel, { write: (s: string) => io.stderr(s) });
  // The tick's time is the clock: a new billing database dates its epoch at --now.
  const opened = openBilling(config, { log, clock: { now: () => now } });
  try {
    return await fn(opened);
  } finally {
    opened.close();
  }
}

export const command: Command = {
  summary: "one billing tick; balances, burn, runway and billed-up-to",
  help: HELP,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === "tick") {
      const { values, positionals } = parseFlags(rest, { now: { type: "string" }, json: { type: "boolean" } });
      if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
      const now = parseNow(values.now);
      return withBilling(io, now, async ({ billing }) => {
        const r = await billing.tick(now);
        io.stdout(values.json ? billingJson(r) + "\n" : tickText(r));
        return r.errors.length > 0 ? EXIT.failed : EXIT.ok;
      });
    }
    if (sub === "status") {
      const { values, positionals } = parseFlags(rest, { user: { type: "string" }, json: { type: "boolean" } });
      if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
      const now = new Date();
      return withBilling(io, now, async ({ billing }) => {
        const r = await billing.status(now, values.user);
        io.stdout(values.json ? billingJson(r) + "\n" : statusText(r));
        return EXIT.ok;
      });
    }
    throw new UsageError(sub === undefined ? "name a subcommand: tick or status" : `unknown subcommand '${sub}' (tick or status)`);
  },
};
