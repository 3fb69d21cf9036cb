// `proxstack serve` (npm start): the engine, with a simulator in-process for each provider that is not configured.
import { startServe, type ServeSummary } from "../app/serve.js";
import { loadConfig } from "../schemas/config.js";
import { faultsLabel, FAULTS_HELP } from "../sim/faults.js";
import { shouldSimulate } from "../sim/should-simulate.js";
import { cliLogger, EXIT, faultsFlag, parseFlags, type Command } from "./cli.js";
import { REPO_ROOT } from "./engine-cli.js";

export const command: Command = {
  summary: "portal, engine, billing and stacks sync (+ a simulator for each provider not configured); what npm start runs",
  help: `Usage: proxstack serve [--no-real-containers] [--no-vpn] [--faults LIST]

Parses the configuration (see .env.example), creates the data directory, creates <data dir>/stacks as
a git repository from the checkout's stacks/ on first start, and runs the engine, the portal on PORT, billing
every minute and the stacks repository's sync with its remote. Each provider is real
exactly when configured and simulated in-process otherwise (labelled "simulation"): Proxmox VE when
PROXMOX_VE_ENDPOINT and PROXMOX_VE_API_TOKEN are set, Cloudflare when CLOUDFLARE_API_TOKEN is set.
Where the host allows (root, OpenSSH server, iproute2), each running simulated container is backed
by a real host in a network namespace, so the SSH hardening hook runs against a real sshd
(--no-real-containers turns this off). Without VPN_URL, the VPN service starts in-process where
WireGuard (wireguard-go or the kernel module) and nftables are available (--no-vpn turns it off).
The portal (web portal at /, API under /api) listens on PORT (default 8080) and writes
<data dir>/serve.json with its URL.

--faults LIST injects faults into the simulators from the start, to watch the engine converge under
them, e.g. errorRate=0.2,lockTimeoutRate=0.1 (a knob goes to every simulator that has it; pve.K=V or
cloudflare.K=V targets one; a fault for a real provider is refused):
${FAULTS_HELP}

Prints one JSON line on stdout once running:
  {"mode","providers":{"proxmox","cloudflare"},"simulators":{"pve"?:{"url","token"},"cloudflare"?:{…}},
   "faults","stacksDir","dataDir","statusDb","portal":{"url"}}
and logs (with a start-up banner) on stderr. Stops cleanly on SIGINT or SIGTERM.
`,
  async run(args, io) {
    const { values } = parseFlags(args, { "no-real-containers": { type: "boolean" }, "no-vpn": { type: "boolean" }, faults: { type: "string" } }, false);
    const config = loadConfig(io.env, io.cwd);
    const faults = faultsFlag(values.faults, shouldSimulate(config));
    const log = cliLogger(io, config.logLevel);
    const running = await startServe(config, {
      log,
      repoRoot: REPO_ROOT,
      realContainers: !values["no-real-containers"],
      vpn: !values["no-vpn"],
      ...(faults ? { faults } : {}),
    });
    io.stderr(banner(running.summary, running.notes));
    io.stdout(JSON.stringify(running.summary) + "\n");
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    log.info("stopping: waiting for runs in flight");
    await running.close();
    return EXIT.ok;
  },
};

/** The start-up banner people read on stderr. */
export function banner(s: ServeSummary, notes: string[]): string {
  const provider = (name: string, p: "real" | "simulated", sim: { url: string } | undefined) =>
    `  ${name.padEnd(19)}${p === "simulated" ? `SIMULATION at ${sim?.url ?? "?"}` : "real (configured)"}`;
  const faults = faultsLabel(s.faults);
  const lines = [
    `proxstack is running (mode: ${s.mode})`,
    `  portal:            ${s.portal.url}   (API under /api; writes <data dir>/serve.json)`,
    provider("proxmox:", s.providers.proxmox, s.simulators.pve),
    provider("cloudflare:", s.providers.cloudflare, s.simulators.cloudflare),
    ...(faults ? [`  FAULTS injected:   ${faults}`] : []),
    `  stack files (git): ${s.stacksDir}   edit one and the engine applies it`,
    `  data:              ${s.dataDir}`,
    `  status:            ${s.statusDb}   see 'npx proxstack status'`,
    ...notes.map((n) => `  ${n}`),
    "Ctrl-C stops.",
  ];
  return lines.join("\n") + "\n";
}
