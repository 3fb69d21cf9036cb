// `proxstack serve` (npm start): the engine, with the Proxmox and Cloudflare simulators in-process when nothing real is configured.
import path from "node:path";
import { EXIT, parseFlags, type Command } from "./cli.js";
import { engineFromEnv } from "./engine-cli.js";

export const command: Command = {
  summary: "portal + engine (+ simulators when unconfigured); what npm start runs",
  help: `Usage: proxstack serve

Parses the configuration (see .env.example), creates the data directory, creates <data dir>/stacks as
a git repository from the checkout's stacks/ on first start, starts the Proxmox and Cloudflare
simulators in-process when PROXMOX_VE_ENDPOINT is unset (labelled "simulation"), and runs the engine.
Stops cleanly on SIGINT or SIGTERM.
`,
  async run(args, io) {
    parseFlags(args, {}, false);
    const { config, composed } = await engineFromEnv(io);
    const { engine } = composed;
    await engine.start();
    const lines = [
      `proxstack is running (mode: ${composed.mode})`,
      `  stack files (git): ${config.stacksDir}   edit one and the engine applies it`,
      `  data:              ${config.dataDir}`,
      `  status:            ${path.join(config.dataDir, "engine.db")}   see 'npx proxstack status'`,
      ...(composed.simulators
        ? [
            `  SIMULATION: no PROXMOX_VE_ENDPOINT configured; Proxmox and Cloudflare are simulated in-process`,
            `  proxmox simulator:    ${composed.simulators.proxmox}`,
            `  cloudflare simulator: ${composed.simulators.cloudflare}`,
          ]
        : []),
      `  portal:            not started by this command yet (the portal is wired in by its own module)`,
      "Ctrl-C stops.",
    ];
    io.stdout(lines.join("\n") + "\n");
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    io.stdout("stopping: waiting for runs in flight\n");
    await composed.close();
    return EXIT.ok;
  },
};
