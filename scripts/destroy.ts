// `proxstack destroy <stack>`: destroy one user stack's resources now (never protected instances).
import { EXIT, parseFlags, UsageError, type Command } from "./cli.js";
import { engineFromEnv, printStatus } from "./engine-cli.js";

export const command: Command = {
  summary: "destroy one stack's resources now",
  help: `Usage: proxstack destroy <stack> [--json]

Destroys every resource of a user stack now. Protected instances are never destroyed: the command
fails and says which. The stack file is left as it is; while it exists the engine would apply it
again, so remove the file (or the instances) for a lasting removal.

  --json   print the status as one JSON line (as 'proxstack status --json')

A stack whose file is missing is destroyed by the engine only after a grace period (PendingRemoval in
'proxstack status'); when many files went missing at once, none is destroyed until this command
confirms it, one stack at a time.
`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { json: { type: "boolean" } });
    const stack = positionals[0];
    if (!stack || positionals.length > 1) throw new UsageError("name exactly one stack, e.g. proxstack destroy alice");
    if (stack === "platform") throw new UsageError("the platform stack is not destroyed from the CLI");
    const { composed } = await engineFromEnv(io, { watch: false, resyncIntervalMs: 0 });
    const { engine } = composed;
    try {
      await engine.runner.recover();
      await engine.index.resync();
      await engine.destroy(stack);
      printStatus(io, engine.store, composed.providers, values.json === true);
      return engine.store.getStack(stack)?.reason === "Destroyed" ? EXIT.ok : EXIT.failed;
    } finally {
      await composed.close();
    }
  },
};
