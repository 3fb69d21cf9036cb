// `proxstack status [--json]`: stacks, conditions and instances from the engine's status database.
import { existsSync } from "node:fs";
import path from "node:path";
import { openStatusStore } from "../engine/status/store.js";
import { systemClock } from "../lib/clock.js";
import { loadConfig } from "../schemas/config.js";
import { providersOf } from "../sim/should-simulate.js";
import { syncStatus } from "../stackrepo/sync.js";
import { EXIT, parseFlags, type Command } from "./cli.js";
import { statusJson, statusText } from "./engine-cli.js";
import type { SyncStatus } from "../schemas/sync-status.js";

export const command: Command = {
  summary: "stacks, conditions, instances (vmid, ip, power, state)",
  help: `Usage: proxstack status [--json]

Prints every stack with its condition (Ready, Reconciling, Stalled) and reason, and every instance
with its VMID, IP address, power and state; "simulation" marks simulated instances. A stack whose file
is missing shows PendingRemoval with the time left before its resources are destroyed, or that it is
held until 'proxstack destroy <stack>' confirms it (JSON: "pendingRemoval": {"at", "inMs", "held"}); and it shows
the last sync of the stacks repository with its remote (a conflict names the files and what to do).
Reads <data dir>/engine.db (PROXSTACK_DATA_DIR); the engine need not be running.

  --json   one JSON line instead of the table: {mode, providers, stacks:[{…, instances:[…]}]}
`,
  run(args, io) {
    const { values } = parseFlags(args, { json: { type: "boolean" } }, false);
    const config = loadConfig(io.env, io.cwd);
    const file = path.join(config.dataDir, "engine.db");
    if (!existsSync(file)) {
      io.stderr(`proxstack status: no engine database at ${file}; start the engine with 'npm start' or 'proxstack reconcile'\n`);
      return Promise.resolve(EXIT.failed);
    }
    const store = openStatusStore(file, { clock: systemClock });
    try {
      // The stacks repository's last sync (proxstack sync, serve's timer): a conflict or error is shown, never hidden.
      const sync = syncStatus(config.dataDir);
      const providers = providersOf(config);
      io.stdout(
        values.json
          ? JSON.stringify({ ...statusJson(store, providers), ...(sync ? { sync } : {}) }) + "\n"
          : statusText(store, providers) + (sync ? syncLine(sync) : ""),
      );
      return Promise.resolve(store.listStacks().some((s) => s.condition === "Stalled") ? EXIT.failed : EXIT.ok);
    } finally {
      store.close();
    }
  },
};

function syncLine(s: SyncStatus): string {
  const head = `\nsync: ${s.state} at ${s.at}${s.remote ? ` (${s.remote}/${s.branch ?? "?"})` : ""}\n`;
  if (s.conflict) return `${head}    conflict in ${s.conflict.files.join(", ")}: ${s.conflict.message}\n`;
  if (s.error) return `${head}    ${s.error}\n`;
  return head;
}
