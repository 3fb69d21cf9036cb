// `proxstack validate [paths…] [--json]`: validate stack files, each alone and across files.
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { PLATFORM_FILE } from "../programs/naming.js";
import { loadConfig } from "../schemas/config.js";
import { createStackSetValidator, readStackDir, type StackFileInput, type StackSetReport } from "../stackfiles/validate.js";
import { formatPositionedError } from "../stackfiles/positioned-error.js";
import { EXIT, parseFlags, UsageError, type CliIo, type Command } from "./cli.js";

const HELP = `Usage: proxstack validate [paths…] [--json]

Validates stack files: YAML, schema, SSH keys, name = file name, then across files (unique
VMIDs, addresses, hostnames; templates, plans, quotas and ranges of the platform file).

  paths    files or directories (every *.yaml in them); default: $PROXSTACK_STACKS_DIR or ./stacks.
           When no platform file is among them, the platform.yaml beside the first file is used.
  --json   print a machine-readable report: {valid, files:[{path,kind,valid,errors}], errors}

Errors print as path:line:col: message. Exit: 0 all valid, 1 errors found, 2 usage error.
`;

/** Reads the inputs named on the command line; a path that does not exist is a usage error. */
export async function readInputs(paths: readonly string[], cwd: string): Promise<StackFileInput[]> {
  const inputs = new Map<string, StackFileInput>();
  for (const p of paths) {
    const abs = resolve(cwd, p);
    const st = await stat(abs).catch(() => undefined);
    if (!st) throw new UsageError(`no such file or directory: ${p}`);
    const found = st.isDirectory() ? await readStackDir(abs, p) : [{ path: p, text: await readFile(abs) }];
    for (const f of found) inputs.set(f.path, f);
  }
  return [...inputs.values()];
}

/**
 * Validates the inputs; unless one of them is a platform.yaml, adds the platform.yaml beside them (the
 * first directory that has one) and validates again, reusing the first round's parse results. A file of
 * kind Platform under another name (a user file in a pull request, say) is then checked against the real
 * platform, as the engine checks it, and refused as a second platform.
 */
export async function validateWithPlatform(inputs: StackFileInput[], cwd: string): Promise<StackSetReport> {
  const validator = createStackSetValidator();
  const report = validator.validate(inputs);
  if (report.files.some((f) => f.kind === "Platform" && basename(f.path) === PLATFORM_FILE)) return report;
  for (const dir of [...new Set(inputs.map((f) => dirname(f.path)))]) {
    const path = join(dir, PLATFORM_FILE);
    if (inputs.some((f) => f.path === path)) continue;
    const text = await readFile(resolve(cwd, path)).catch(() => undefined);
    if (text) return validator.validate([...inputs, { path, text }]);
  }
  return report;
}

/** The --json form: the report without the parsed specs. */
export function reportJson(report: StackSetReport): unknown {
  return { valid: report.valid, files: report.files, errors: report.errors };
}

export const command: Command = {
  summary: "validate stack files, per file and across files",
  help: HELP,
  async run(args: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(args, { json: { type: "boolean" } });
    const config = loadConfig(io.env, io.cwd);
    const paths = positionals.length > 0 ? positionals : [config.stacksDirSet ? relative(io.cwd, config.stacksDir) || "." : "stacks"];
    const inputs = await readInputs(paths, io.cwd);
    if (inputs.length === 0) throw new UsageError(`no *.yaml stack files in ${paths.join(", ")}`);
    const report = await validateWithPlatform(inputs, io.cwd);
    if (values.json) {
      io.stdout(`${JSON.stringify(reportJson(report))}\n`);
    } else {
      for (const e of report.errors) io.stdout(`${formatPositionedError(e)}\n`);
      const invalid = report.files.filter((f) => !f.valid).length;
      io.stdout(`${report.files.length} file${report.files.length === 1 ? "" : "s"} checked: ${report.files.length - invalid} valid, ${invalid} invalid\n`);
    }
    return report.valid ? EXIT.ok : EXIT.failed;
  },
};
