// `proxstack points grant <stack|email> <amount> --reason TEXT`: one admin-grant row in the ledger (negative takes points).
import { openBilling } from "../app/billing.js";
import { billingJson } from "../billing/service.js";
import { microToPoints } from "../billing/money.js";
import { createLogger } from "../lib/logger.js";
import { loadConfig } from "../schemas/config.js";
import { EXIT, parseFlags, UsageError, type Command } from "./cli.js";

export const command: Command = {
  summary: "grant or take points (a ledger row with a reason)",
  help: `Usage: proxstack points grant <stack|email> <amount> --reason TEXT [--json]

Writes one ledger row with reason admin-grant and your text, and moves the balance with it in the
same transaction. The amount is in points with up to six decimals; a negative amount takes points
(never below zero). The stack is named by its file name or its owner's e-mail.
A stack suspended for points is resumed by the next billing tick once the balance covers the
platform's resume runway.

  --reason TEXT   why (shown in the user's ledger)
  --json          print {"stack","entry":{…},"balanceMicro"} instead of a sentence
`,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub !== "grant") throw new UsageError(sub === undefined ? "name a subcommand: grant" : `unknown subcommand '${sub}' (grant)`);
    // A negative amount such as -5 must not be read as a flag.
    const { values, positionals } = parseFlags(
      rest.map((a) => (/^-\d/.test(a) ? `\u0000${a}` : a)),
      { reason: { type: "string" }, json: { type: "boolean" } },
    );
    const pos = positionals.map((p) => p.replace(/^\u0000/, ""));
    if (pos.length !== 2) throw new UsageError("expected <stack|email> <amount>");
    if (values.reason === undefined || !values.reason.trim()) throw new UsageError("--reason TEXT is required");
    const [target, amount] = pos as [string, string];
    if (!/^[+-]?\d+(\.\d+)?$/.test(amount)) throw new UsageError(`<amount> must be a number of points such as 100 or -2.5, got '${amount}'`);
    const config = loadConfig(io.env, io.cwd);
    const log = createLogger(config.logLevel === "info" ? "warn" : config.logLevel, { write: (s: string) => io.stderr(s) });
    const opened = openBilling(config, { log });
    try {
      const r = await opened.billing.grant(target, amount, values.reason, new Date());
      io.stdout(
        values.json
          ? billingJson(r) + "\n"
          : `${r.stack}: ${r.entry.amountMicro > 0n ? "granted" : "took"} ${microToPoints(r.entry.amountMicro < 0n ? -r.entry.amountMicro : r.entry.amountMicro)} points; balance ${microToPoints(r.balanceMicro)} points\n`,
      );
      return EXIT.ok;
    } finally {
      opened.close();
    }
  },
};
