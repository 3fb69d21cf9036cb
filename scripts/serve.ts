// `proxstack serve` (npm start): the engine, with the Proxmox and Cloudflare simulators in-process when nothing real is configured.
import path from "node:path";
import { EXIT, parseFlags, type Command } from "./cli.js";
import { engineFromEnv, REPO_ROOT } from "./engine-cli.js";
import { serveExtras, type ServeExtras } from "../app/serve-extras.js";

export const command: Command = {
  summary: "portal + engine (+ simulators when unconfigured); what npm start runs",
  help: `Usage: proxstack serve [--no-real-containers] [--no-vpn]

Parses the configuration (see .env.example), creates the data directory, creates <data dir>/stacks as
a git repository from the checkout's stacks/ on first start, starts the Proxmox and Cloudflare
simulators in-process when PROXMOX_VE_ENDPOINT is unset (labelled "simulation"), and runs the engine.
Where the host allows (root, OpenSSH server, iproute2), each running simulated container is backed
by a real host in a network namespace, so the SSH hardening hook runs against a real sshd
(--no-real-containers turns this off). Without VPN_URL, the VPN service starts in-process where
WireGuard (wireguard-go or the kernel module) and nftables are available (--no-vpn turns it off).
Stops cleanly on SIGINT or SIGTERM.
`,
  async run(args, io) {
    const { values } = parseFlags(args, { "no-real-containers": { type: "boolean" }, "no-vpn": { type: "boolean" } }, false);
    let extras: ServeExtras | undefined;
    const { config, composed } = await engineFromEnv(io, {}, async (cfg, log) => {
      extras = await serveExtras(cfg, log, REPO_ROOT, { realContainers: !values["no-real-containers"], vpn: !values["no-vpn"] });
      return extras.deps;
    });
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
      ...(extras?.notes ?? []).map((n) => `  ${n}`),
      `  portal:            not built yet (a later issue); watch progress with 'npx proxstack status'`,
      "Ctrl-C stops.",
    ];
    io.stdout(lines.join("\n") + "\n");
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    io.stdout("stopping: waiting for runs in flight\n");
    await composed.close();
    await extras?.close();
    return EXIT.ok;
  },
};
