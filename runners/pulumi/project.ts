// The Pulumi project folder the workspace runs in: the repository root's Pulumi.yaml, or a data-dir copy naming the backend.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { ProxstackError } from "../../lib/errors.js";
import { PROJECT_NAME } from "../../programs/naming.js";

/**
 * Returns the work dir for LocalWorkspace. `repoRoot/Pulumi.yaml`, when present, is used as is (the
 * operator's `pulumi up -s alice` runs from there too); its `name` must be `proxstack`. Otherwise
 * `<dataDir>/pulumi-project/Pulumi.yaml` is written (and rewritten when the backend URL changes).
 */
export function preparePulumiProject(opts: { repoRoot?: string; dataDir: string; backendUrl: string }): string {
  if (opts.repoRoot !== undefined) {
    const file = path.join(opts.repoRoot, "Pulumi.yaml");
    if (existsSync(file)) {
      const name = (parse(readFileSync(file, "utf8")) as { name?: unknown } | null)?.name;
      if (name !== PROJECT_NAME) {
        throw new ProxstackError("pulumi.project-name", `${file} names project "${String(name)}"; the engine and the CLI both need "${PROJECT_NAME}"`, { kind: "stall" });
      }
      return opts.repoRoot;
    }
  }
  const dir = path.join(opts.dataDir, "pulumi-project");
  mkdirSync(dir, { recursive: true });
  const content = stringify({
    name: PROJECT_NAME,
    description: "proxstack engine work dir (generated; the engine runs its programs inline)",
    runtime: "nodejs",
    backend: { url: opts.backendUrl },
  });
  const file = path.join(dir, "Pulumi.yaml");
  if (!existsSync(file) || readFileSync(file, "utf8") !== content) writeFileSync(file, content);
  return dir;
}

/** The folder of a `file://` backend (created when missing); undefined for any other backend. */
export function fileBackendDir(backendUrl: string): string | undefined {
  if (!backendUrl.startsWith("file://")) return undefined;
  const dir = backendUrl.startsWith("file:///") ? fileURLToPath(backendUrl) : path.resolve(backendUrl.slice("file://".length));
  mkdirSync(dir, { recursive: true });
  return dir;
}
