// `proxstack sync`: fetch the stacks repository's remote, fast-forward merged changes, rebase and push local commits; report conflicts.
import { existsSync } from "node:fs";
import { systemClock } from "../lib/clock.js";
import { createLogger } from "../lib/logger.js";
import { loadConfig } from "../schemas/config.js";
import { syncStackRepo, SYNC_STATUS_FILE } from "../stackrepo/sync.js";
import { EXIT, parseFlags, type Command } from "./cli.js";

export const command: Command = {
  summary: "pull merged changes into the stacks repository and push local commits",
  help: `Usage: proxstack sync [--json]

When the stacks repository ($PROXSTACK_STACKS_DIR, default <data dir>/stacks) has a remote: fetches it,
fast-forwards to merged changes, rebases local commits (portal edits, billing, the engine's
allocations) onto them and pushes. A conflict changes nothing: the stacks directory keeps its state
(the engine keeps applying it), the remote keeps its own, and the local side is pushed to the remote
branch proxstack/conflict-<commit> for someone to resolve. The outcome is written to
<data dir>/${SYNC_STATUS_FILE}, where status and the admin page read it. serve syncs every minute and
when POST /api/hooks/git receives a push.

  --json   the outcome as JSON: {state, at, remote, branch, head, upstream, conflict?, error?}

Exit: 0 synced (or no remote), 1 conflict or error, 2 usage error.
`,
  async run(args, io) {
    const { values } = parseFlags(args, { json: { type: "boolean" } }, false);
    const config = loadConfig(io.env, io.cwd);
    if (!existsSync(config.stacksDir)) {
      io.stderr(`proxstack sync: no stacks repository at ${config.stacksDir}; proxstack serve creates it on first start\n`);
      return EXIT.failed;
    }
    const log = createLogger(config.logLevel, process.stderr as never);
    const status = await syncStackRepo({ dir: config.stacksDir, dataDir: config.dataDir, clock: systemClock, log });
    if (values.json) io.stdout(`${JSON.stringify(status, null, 2)}\n`);
    else {
      const where = status.remote ? ` (${status.remote}/${status.branch ?? "?"})` : "";
      io.stdout(`sync: ${status.state}${where}${status.head ? ` at ${status.head.slice(0, 12)}` : ""}\n`);
      if (status.conflict) io.stdout(`conflict in ${status.conflict.files.join(", ")}: ${status.conflict.message}\n`);
      if (status.error) io.stdout(`error: ${status.error}\n`);
    }
    return status.state === "conflict" || status.state === "error" ? EXIT.failed : EXIT.ok;
  },
};
