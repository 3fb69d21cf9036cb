// `proxstack reconcile [--once]`: run the engine (watch + queue), or one pass over every stack.
import { EXIT, parseFlags, UsageError, type Command } from "./cli.js";
import { engineFromEnv, printStatus } from "./engine-cli.js";

export const command: Command = {
  summary: "run the engine (watch + queue), or one pass with --once",
  help: `Usage: proxstack reconcile [--once [--json]]

Watches the stacks directory and applies every change (Proxmox and Cloudflare, or their simulators
when PROXMOX_VE_ENDPOINT is unset). Stops cleanly on SIGINT or SIGTERM.

  --once   one pass: apply what differs from the last apply, wait for it, print the status and exit
           (exit 1 when a stack is not Ready)
  --json   with --once: print the status as one JSON line (as 'proxstack status --json')

Logs and progress go to stderr.
`,
  async run(args, io) {
    const { values } = parseFlags(args, { once: { type: "boolean" }, json: { type: "boolean" } }, false);
    const once = values.once === true;
    if (values.json && !once) throw new UsageError("--json needs --once (the watching engine prints nothing on stdout)");
    const { composed } = await engineFromEnv(io, once ? { watch: false, resyncIntervalMs: 0 } : {});
    const { engine } = composed;
    const { pve, cloudflare } = composed.simulators;
    const where = (name: string, p: string, sim: { url: string } | undefined) => `${name} ${p === "simulated" ? `simulated at ${sim?.url ?? "?"}` : "real"}`;
    io.stderr(
      `proxstack reconcile: mode ${composed.mode} (${where("proxmox", composed.providers.proxmox, pve)}, ${where("cloudflare", composed.providers.cloudflare, cloudflare)})\n`,
    );
    if (once) {
      try {
        await engine.start();
        await engine.idle();
        printStatus(io, engine.store, composed.providers, values.json === true);
        return engine.store.listStacks().every((s) => s.condition === "Ready") ? EXIT.ok : EXIT.failed;
      } finally {
        await composed.close();
      }
    }
    await engine.start();
    io.stderr("proxstack reconcile: watching; Ctrl-C stops\n");
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    io.stderr("proxstack reconcile: stopping (waiting for runs in flight)\n");
    await composed.close();
    return EXIT.ok;
  },
};
