// The `proxstack` command: a table of subcommands, each a thin CLI over the modules in its own file.
import { EXIT, UsageError, type CliIo, type Command } from "./cli.js";

// Each name is a module `scripts/<name>.ts` exporting `command: Command`; modules load lazily so
// `proxstack validate` does not pay for Pulumi or the portal.
const COMMANDS = [
  "validate", "schema", "cost", "sim", "plan", "up", "destroy", "reconcile", "status",
  "hook", "vpn", "billing", "check", "admin", "serve", "doctor",
] as const;

async function loadCommand(name: string): Promise<Command | undefined> {
  if (!(COMMANDS as readonly string[]).includes(name)) return undefined;
  try {
    const mod = (await import(`./${name}.ts`)) as { command: Command };
    return mod.command;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes(`/scripts/${name}.ts`)) return undefined;
    throw err;
  }
}

async function usage(io: CliIo): Promise<string> {
  const lines = ["Usage: proxstack <command> [options]", "", "Commands:"];
  for (const name of COMMANDS) {
    const cmd = await loadCommand(name);
    lines.push(`  ${name.padEnd(10)} ${cmd ? cmd.summary : "(not built yet)"}`);
  }
  lines.push("", "Run `proxstack <command> --help` for a command's options.");
  void io;
  return lines.join("\n") + "\n";
}

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout(await usage(io));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const cmd = await loadCommand(name);
  if (!cmd) {
    io.stderr((COMMANDS as readonly string[]).includes(name) ? `proxstack ${name}: not built yet\n` : `proxstack: unknown command '${name}'\n\n${await usage(io)}`);
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
  };
}
