// `proxstack rollback <stack> --to REV [--yes]`: the check report for restoring a stack file as it was at REV, then (with --yes) a new commit restoring it.
import { resolve } from "node:path";
import { ProxstackError } from "../lib/errors.js";
import { loadConfig } from "../schemas/config.js";
import { commitRollback, planRollback } from "../stackrepo/rollback.js";
import { renderMarkdown } from "../stackrepo/report-markdown.js";
import { EXIT, parseFlags, UsageError, type Command } from "./cli.js";

const HELP = `Usage: proxstack rollback <stack> --to REV [--yes] [--allow-replace] [--allow-destroy] [--dir D] [--json]

Shows what restoring stacks/<stack>.yaml as it was at REV would do — the same report as
proxstack check: containers created, changed in place, replaced or destroyed, hostnames, points per
day — and with --yes commits that restoration as a new commit (history is never rewritten). The
engine then applies it like any other change.

Allocations: an instance that exists today keeps today's vmid and ip (its container holds them);
an instance restored from REV keeps its old vmid and ip only while no other file claims them and
the platform still allows them, else they are left out and the engine allocates new ones.

  --to REV   the revision to restore the file from (commit, tag, HEAD~3 …; required)
  --yes      commit the restoration (without it nothing is written)
  --allow-replace, --allow-destroy
             as for proxstack check: without them a restoration that replaces or destroys a
             container (e.g. shrinking a disk back) is shown but not committed
  --dir D    the stacks repository (default: $PROXSTACK_STACKS_DIR, i.e. <data dir>/stacks)
  --json     the plan as JSON: {stack, to, commit, allocations, report, committed?}

Exit: 0 shown (or committed), 1 the restoration would not validate or needs an --allow flag, 2 usage error.
`;

export const command: Command = {
  summary: "restore a stack file as it was at a revision (report first, commit with --yes)",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      to: { type: "string" },
      yes: { type: "boolean" },
      dir: { type: "string" },
      json: { type: "boolean" },
      "allow-replace": { type: "boolean" },
      "allow-destroy": { type: "boolean" },
    });
    const stack = positionals[0];
    if (!stack || positionals.length > 1) throw new UsageError("name exactly one stack, e.g. proxstack rollback alice --to HEAD~1");
    if (!values.to) throw new UsageError("--to REV is required, e.g. --to HEAD~1");
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(stack)) throw new UsageError(`'${stack}' is not a stack name`);
    const dir = values.dir ? resolve(io.cwd, values.dir) : loadConfig(io.env, io.cwd).stacksDir;
    let plan;
    try {
      plan = await planRollback(dir, stack, values.to, { allowReplace: values["allow-replace"] ?? false, allowDestroy: values["allow-destroy"] ?? false });
    } catch (err) {
      if (err instanceof ProxstackError && ["unknown-revision", "not-a-repository", "no-such-stack"].includes(err.code)) throw new UsageError(err.message);
      throw err;
    }
    const valid = plan.report.ok;
    let committed: string | undefined;
    if (values.yes && plan.changes && valid) committed = await commitRollback(dir, plan, { name: "proxstack rollback", email: "rollback@proxstack.invalid" });

    if (values.json) {
      const { current: _c, restored: _r, ...rest } = plan;
      io.stdout(`${JSON.stringify({ ...rest, ...(committed ? { committed } : {}) }, null, 2)}\n`);
    } else {
      io.stdout(renderMarkdown(plan.report, { title: `proxstack rollback ${stack} to ${values.to}` }));
      const notes = plan.allocations.filter((a) => a.outcome !== "kept-current");
      if (notes.length > 0)
        io.stdout(
          `\nAllocations:\n${notes.map((a) => `- ${a.instance}.${a.field} ${a.value}: ${a.outcome === "kept" ? "kept (still free)" : `dropped: ${a.reason}`}`).join("\n")}\n`,
        );
    }
    if (!plan.changes) io.stderr(`proxstack rollback: ${plan.file} is already as it was at ${values.to}; nothing to do\n`);
    else if (!valid) io.stderr(`proxstack rollback: nothing committed: ${plan.report.failures.join("; ")}\n`);
    else if (committed) io.stderr(`proxstack rollback: committed ${committed.slice(0, 12)}: ${plan.file} as of ${values.to}\n`);
    else io.stderr("proxstack rollback: nothing committed; run again with --yes to commit this restoration\n");
    return valid ? EXIT.ok : EXIT.failed;
  },
};
