// `proxstack check --base REV …`: the pull-request check — validation, ownership and what the change will do — as one Markdown comment or JSON.
import { resolve } from "node:path";
import { ProxstackError } from "../lib/errors.js";
import { checkStackRepo } from "../stackrepo/repo.js";
import { renderMarkdown } from "../stackrepo/report-markdown.js";
import { EXIT, parseFlags, UsageError, type Command } from "./cli.js";

const HELP = `Usage: proxstack check --base REV [--dir D] [--json] [--allow-replace] [--allow-destroy] [--author EMAIL]

Checks the stack files changed between REV and the working tree of the stacks repository: the full
validation across every file (VMIDs, addresses, hostnames, quotas …), then per stack what will happen
— containers created, changed in place, replaced or destroyed (the programs' replacement rules),
hostnames added or removed, points per day before → after. Prints one Markdown report fit for a
single pull-request comment (problems as path:line:col), or JSON. Needs no Pulumi and no network.

  --base REV        the revision to compare with, e.g. origin/main (required)
  --dir D           the stacks directory inside a git repository (default: $PROXSTACK_STACKS_DIR or ./stacks)
  --json            the report as JSON instead of Markdown
  --allow-replace   replacements (a container recreated, its disk lost) do not fail the check
  --allow-destroy   destroys (an instance or stack file removed) do not fail the check
  --author EMAIL    check ownership: EMAIL may change only the stack files it owns (owner.email),
                    and files stacks/OWNERS lists it for

Exit: 0 clean; 1 validation errors, ownership refused, or replacements / destroys without the
matching --allow flag; 2 usage error (including an unknown REV).
`;

export const command: Command = {
  summary: "the pull-request check: validation, ownership and a plan summary as Markdown",
  help: HELP,
  async run(args, io) {
    const { values } = parseFlags(
      args,
      {
        base: { type: "string" },
        dir: { type: "string" },
        json: { type: "boolean" },
        "allow-replace": { type: "boolean" },
        "allow-destroy": { type: "boolean" },
        author: { type: "string" },
      },
      false,
    );
    if (!values.base) throw new UsageError("--base REV is required, e.g. --base origin/main");
    if (values.author !== undefined && !/^[^\s@]+@[^\s@]+$/.test(values.author))
      throw new UsageError(`--author must be an e-mail address, got '${values.author}'`);
    const dir = resolve(io.cwd, values.dir ?? io.env.PROXSTACK_STACKS_DIR ?? "stacks");
    let report;
    try {
      report = await checkStackRepo(dir, {
        base: values.base,
        ...(values.author !== undefined ? { author: values.author } : {}),
        allowReplace: values["allow-replace"] ?? false,
        allowDestroy: values["allow-destroy"] ?? false,
      });
    } catch (err) {
      if (err instanceof ProxstackError && (err.code === "unknown-revision" || err.code === "not-a-repository")) throw new UsageError(err.message);
      throw err;
    }
    io.stdout(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderMarkdown(report));
    io.stderr(report.ok ? "proxstack check: passed\n" : `proxstack check: failed: ${report.failures.join("; ")}\n`);
    return report.ok ? EXIT.ok : EXIT.failed;
  },
};
