// `proxstack reconcile [--once]`: run the engine (watch + queue), or one pass over every stack.
import { EXIT, parseFlags, type Command } from "./cli.js";
import { engineFromEnv, statusText } from "./engine-cli.js";

export const command: Command = {
  summary: "run the engine (watch + queue), or one pass with --once",
  help: `Usage: proxstack reconcile [--once]

Watches the stacks directory and applies every change (Proxmox and Cloudflare, or their simulators
when PROXMOX_VE_ENDPOINT is unset). Stops cleanly on SIGINT or SIGTERM.

  --once   one pass: apply what differs from the last apply, wait for it, print the status and exit
           (exit 1 when a stack is not Ready)
`,
  async run(args, io) {
    const { values } = parseFlags(args, { once: { type: "boolean" } }, false);
    const once = values.once === true;
    const { composed } = await engineFromEnv(io, once ? { watch: false, resyncIntervalMs: 0 } : {});
    const { engine } = composed;
    const { pve, cloudflare } = composed.simulators;
    const where = (name: string, p: string, sim: { url: string } | undefined) => `${name} ${p === "simulated" ? `simulated at ${sim?.url ?? "?"}` : "real"}`;
    io.stderr(`proxstack reconcile: mode ${composed.mode} (${where("proxmox", composed.providers.proxmox, pve)}, ${where("cloudflare", composed.providers.cloudflare, cloudflare)})\n`);
    if (once) {
      try {
        await engine.start();
        await engine.idle();
        io.stdout(statusText(engine.store, composed.providers));
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
