// `proxstack up <stack>`: apply one stack now.
import { EXIT, parseFlags, UsageError, type Command } from "./cli.js";
import { engineFromEnv, printStatus } from "./engine-cli.js";

export const command: Command = {
  summary: "apply one stack now",
  help: `Usage: proxstack up <stack> [--json]

Applies stacks/<stack>.yaml now (preview, guard, up, hooks) and prints the status. The guard refuses
plans that replace or delete containers the file change did not ask for. "platform" applies the
platform stack. Exit 1 when the stack does not end Ready.

  --json   print the status as one JSON line (as 'proxstack status --json')
`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { json: { type: "boolean" } });
    const stack = positionals[0];
    if (!stack || positionals.length > 1) throw new UsageError("name exactly one stack, e.g. proxstack up alice");
    const { composed } = await engineFromEnv(io, { watch: false, resyncIntervalMs: 0, backoff: { baseMs: 1000, capMs: 1000, stallAfter: 1 } });
    const { engine } = composed;
    try {
      await engine.runner.recover();
      await engine.index.resync();
      if (stack !== "platform" && !engine.index.get(stack)) {
        io.stderr(`proxstack up: no stack file ${stack}.yaml in ${engine.index.dir}\n`);
        return EXIT.failed;
      }
      engine.enqueue(stack, "portal");
      await engine.idle();
      printStatus(io, engine.store, composed.providers, values.json === true);
      return engine.store.getStack(stack)?.condition === "Ready" ? EXIT.ok : EXIT.failed;
    } finally {
      await composed.close();
    }
  },
};
