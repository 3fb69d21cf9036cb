// The Pulumi project folder the workspace runs in: generated under the data dir, naming the backend and where stack config files go.
import { chmodSync, constants, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { ProxstackError } from "../../lib/errors.js";
import { PROJECT_NAME } from "../../programs/naming.js";

/** The engine's Pulumi project folder under the data directory. */
export function projectDirOf(dataDir: string): string {
  return path.join(dataDir, "pulumi-project");
}

/** `stackConfigDir` of the engine's project, relative to its folder (what Pulumi.yaml says). */
export const STACK_CONFIG_DIR = "stack-config";

/**
 * Returns the work dir for LocalWorkspace: always `<dataDir>/pulumi-project`, never the checkout, with
 * a generated Pulumi.yaml naming the backend and `stackConfigDir: stack-config`, so the CLI writes
 * `Pulumi.<stack>.yaml` (passphrase salt, encrypted config) to `<dataDir>/pulumi-project/stack-config/`:
 * a fresh checkout keeps them, and a backup of the data directory holds them with the state.
 *
 * The SDK passes Pulumi.yaml through to the CLI, which honours `stackConfigDir`; the SDK's own
 * `stackSettings()/saveStackSettings()` ignore it, and proxstack never calls them.
 *
 * `repoRoot/Pulumi.yaml`, when present, must name the project `proxstack` (the operator's CLI runs
 * from there). Stack files a previous version left in the checkout or beside the generated Pulumi.yaml
 * are copied into the stack config folder when it lacks them (never overwritten, never deleted).
 */
export function preparePulumiProject(opts: { repoRoot?: string; dataDir: string; backendUrl: string }): {
  workDir: string;
  stackConfigDir: string;
  migrated: string[];
} {
  const legacy: string[] = [];
  if (opts.repoRoot !== undefined) {
    const file = path.join(opts.repoRoot, "Pulumi.yaml");
    if (existsSync(file)) {
      const name = (parse(readFileSync(file, "utf8")) as { name?: unknown } | null)?.name;
      if (name !== PROJECT_NAME) {
        throw new ProxstackError("pulumi.project-name", `${file} names project "${String(name)}"; the engine and the CLI both need "${PROJECT_NAME}"`, {
          kind: "stall",
        });
      }
    }
    legacy.push(opts.repoRoot);
  }
  const dir = projectDirOf(opts.dataDir);
  legacy.push(dir);
  const configDir = path.join(dir, STACK_CONFIG_DIR);
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  const content = stringify({
    name: PROJECT_NAME,
    description: "proxstack engine work dir (generated; the engine runs its programs inline)",
    runtime: "nodejs",
    backend: { url: opts.backendUrl },
    stackConfigDir: STACK_CONFIG_DIR,
  });
  const file = path.join(dir, "Pulumi.yaml");
  if (!existsSync(file) || readFileSync(file, "utf8") !== content) writeFileSync(file, content);
  const migrated: string[] = [];
  for (const from of legacy) {
    for (const f of existsSync(from) ? readdirSync(from) : []) {
      if (!/^Pulumi\.[^/]+\.ya?ml$/.test(f) || f === "Pulumi.yaml" || f === "Pulumi.yml") continue;
      const to = path.join(configDir, f);
      if (existsSync(to)) continue;
      copyFileSync(path.join(from, f), to, constants.COPYFILE_EXCL);
      chmodSync(to, 0o600);
      migrated.push(path.join(from, f));
    }
  }
  return { workDir: dir, stackConfigDir: configDir, migrated };
}

/** The folder of a `file://` backend (created when missing); undefined for any other backend. */
export function fileBackendDir(backendUrl: string): string | undefined {
  if (!backendUrl.startsWith("file://")) return undefined;
  const dir = backendUrl.startsWith("file:///") ? fileURLToPath(backendUrl) : path.resolve(backendUrl.slice("file://".length));
  mkdirSync(dir, { recursive: true });
  return dir;
}
