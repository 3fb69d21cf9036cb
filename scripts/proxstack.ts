// The `proxstack` command: a table of subcommands, each a thin CLI over the modules in its own file.
import { ConfigError } from "../schemas/config.js";
import { EXIT, UsageError, type CliIo, type Command } from "./cli.js";

// Each name is a module `scripts/<name>.ts` exporting `command: Command` (a test checks that every
// listed module exists); modules load lazily so `proxstack validate` does not pay for Pulumi.
// A new command is a new file plus its name here.
export const COMMANDS = [
  "validate",
  "schema",
  "cost",
  "sim",
  "plan",
  "up",
  "destroy",
  "reconcile",
  "status",
  "hook",
  "vpn",
  "billing",
  "points",
  "check",
  "sync",
  "rollback",
  "admin",
  "doctor",
  "serve",
] as const;

async function loadCommand(name: string): Promise<Command | undefined> {
  if (!(COMMANDS as readonly string[]).includes(name)) return undefined;
  const mod = (await import(`./${name}.ts`)) as { command: Command };
  return mod.command;
}

async function usage(): Promise<string> {
  const lines = ["Usage: proxstack <command> [options]", "", "Commands:"];
  for (const name of COMMANDS) {
    const cmd = await loadCommand(name);
    if (cmd) lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  }
  lines.push("", "Run `proxstack <command> --help` for a command's options.");
  lines.push("Machine output (JSON, --json) goes to stdout; logs and messages go to stderr.");
  return lines.join("\n") + "\n";
}

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout(await usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const cmd = await loadCommand(name);
  if (!cmd) {
    io.stderr(`proxstack: unknown command '${name}'\n\n${await usage()}`);
    return EXIT.usage;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout(cmd.help.endsWith("\n") ? cmd.help : cmd.help + "\n");
    return EXIT.ok;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`proxstack ${name}: ${err.message}\nRun 'proxstack ${name} --help' for usage.\n`);
      return EXIT.usage;
    }
    // Bad environment is a usage error too: nothing ran, and the message names the variable.
    if (err instanceof ConfigError) {
      io.stderr(`proxstack ${name}: ${err.message}\nSee .env.example for every variable.\n`);
      return EXIT.usage;
    }
    io.stderr(`proxstack ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failed;
  }
}

export function processIo(): CliIo {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    stderrIsTTY: process.stderr.isTTY,
  };
}
