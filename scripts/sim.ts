// `proxstack sim`: runs the Proxmox VE and Cloudflare simulators alone and prints one JSON line with their URLs and tokens.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { loadConfig } from "../schemas/config.js";
import { PlatformSpecSchema } from "../schemas/index.js";
import { simulatorSeedFromPlatform, type SimulatorSeed } from "../sim/seed.js";
import { shouldSimulate } from "../sim/should-simulate.js";
import { startSimulators } from "../sim/start.js";
import { ensureDataDir } from "../app/data-dir.js";
import { FAULTS_HELP } from "../sim/faults.js";
import { cliLogger, EXIT, faultsFlag, intFlag, parseFlags, UsageError, type Command } from "./cli.js";
import { ProxstackError } from "../lib/errors.js";

const HELP = `Usage: proxstack sim [--pve-port P] [--cf-port C] [--data-dir D] [--platform FILE] [--pve-version 9.1|8.4] [--task-delay MS]
                     [--faults LIST]

Runs the Proxmox VE and Cloudflare simulators (labelled simulation) until SIGINT/SIGTERM and
prints exactly one JSON line on stdout:

  {"pve":{"url":"http://127.0.0.1:P","token":"USER@REALM!TOKENID=SECRET"},
   "cloudflare":{"url":"http://127.0.0.1:C/client/v4","token":"…"},
   "faults":{"pve"?:{…},"cloudflare"?:{…}}}

Use the PVE token as 'Authorization: PVEAPIToken=<token>' under <url>/api2/json, and the
Cloudflare token as 'Authorization: Bearer <token>'. Logs go to stderr.

Options:
  --pve-port P      Proxmox simulator port; 0 picks a free one (default 0)
  --cf-port C       Cloudflare simulator port; 0 picks a free one (default 0)
  --data-dir D      state directory (default PROXSTACK_DATA_DIR or ./data); files in D/sim/
                    (proxmox.db, cloudflare.db; serve keeps its own in D/simulation/)
  --platform FILE   platform file to seed from (default stacks/platform.yaml)
  --pve-version V   which PVE API schema to speak: 9.1 (default) or 8.4
  --task-delay MS   how long simulated tasks run (default 200)
  --faults LIST     inject faults from the start, e.g. errorRate=0.2,lockTimeoutRate=0.1 (default none);
                    a knob goes to every simulator that has it, pve.K=V or cloudflare.K=V targets one:
${FAULTS_HELP}

Refuses to run when PROXMOX_VE_ENDPOINT or CLOUDFLARE_API_TOKEN is set: a simulator never
stands in for a configured real endpoint.`;

function loadSeed(file: string): SimulatorSeed {
  const r = PlatformSpecSchema.safeParse(parse(readFileSync(file, "utf8")));
  if (!r.success) {
    throw new UsageError(
      `${file}: not a valid platform file (${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}); run 'proxstack validate ${file}'`,
    );
  }
  return simulatorSeedFromPlatform(r.data);
}

export const command: Command = {
  summary: "run the Proxmox VE and Cloudflare simulators; prints one JSON line with URLs and tokens",
  help: HELP,
  async run(args, io) {
    const { values } = parseFlags(
      args,
      {
        "pve-port": { type: "string" },
        "cf-port": { type: "string" },
        "data-dir": { type: "string" },
        platform: { type: "string" },
        "pve-version": { type: "string" },
        "task-delay": { type: "string" },
        faults: { type: "string" },
      },
      false,
    );
    const pvePort = intFlag(values["pve-port"], "pve-port") ?? 0;
    const cfPort = intFlag(values["cf-port"], "cf-port") ?? 0;
    const taskDelayMs = intFlag(values["task-delay"], "task-delay", 0, 600_000);
    const version = values["pve-version"] ?? "9.1";
    if (version !== "9.1" && version !== "8.4") throw new UsageError(`--pve-version must be 9.1 or 8.4, got '${version}'`);

    const faults = faultsFlag(values.faults, { pve: true, cloudflare: true }) ?? {};
    const config = loadConfig(io.env, io.cwd);
    const which = shouldSimulate(config);
    if (!which.pve || !which.cloudflare) {
      io.stderr(
        `proxstack sim: ${!which.pve ? "PROXMOX_VE_ENDPOINT" : "CLOUDFLARE_API_TOKEN"} is set; a simulator never stands in for a configured real endpoint. Unset it to run the simulators.\n`,
      );
      return EXIT.failed;
    }
    const platformFile = path.resolve(io.cwd, values.platform ?? "stacks/platform.yaml");
    if (!existsSync(platformFile)) throw new UsageError(`platform file ${platformFile} not found; pass --platform FILE`);
    const seed = loadSeed(platformFile);
    const dataDir = values["data-dir"] ? path.resolve(io.cwd, values["data-dir"]) : config.dataDir;

    const logger = cliLogger(io, config.logLevel);
    ensureDataDir(dataDir, logger);
    const sims = await startSimulators({
      stateDir: path.join(dataDir, "sim"),
      seed,
      which,
      pvePort,
      cfPort,
      schemaVersion: version,
      logger,
      ...(taskDelayMs !== undefined ? { taskDelayMs } : {}),
      faults,
    });
    const { pve, cloudflare } = sims;
    if (!pve || !cloudflare) throw new ProxstackError("sim.not-started", "simulators did not start", { kind: "bug" });
    io.stdout(JSON.stringify({ pve: { url: pve.url, token: pve.token }, cloudflare: { url: cloudflare.url, token: cloudflare.token }, faults }) + "\n");

    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    logger.info("simulation: stopping");
    await sims.close();
    return EXIT.ok;
  },
};
