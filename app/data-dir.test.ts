// The data directory is created private (0700); an existing one open to others is reported, not changed.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../lib/logger.js";
import { ensureDataDir } from "./data-dir.js";

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

function capture() {
  const lines: string[] = [];
  return { log: createLogger("info", { write: (s: string) => void lines.push(s) }), lines };
}

describe("ensureDataDir", () => {
  it("creates a missing data directory (and its parents) with mode 0700", () => {
    root = mkdtempSync(path.join(tmpdir(), "data-dir-"));
    const dir = path.join(root, "srv", "proxstack", "data");
    const { log, lines } = capture();
    ensureDataDir(dir, log);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(lines).toEqual([]);
  });

  it("warns about an existing directory other users can read, and leaves its mode", () => {
    root = mkdtempSync(path.join(tmpdir(), "data-dir-"));
    const dir = path.join(root, "data");
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const { log, lines } = capture();
    ensureDataDir(dir, log);
    expect(statSync(dir).mode & 0o777).toBe(0o755);
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([
      `data directory ${dir} is open to other local users (mode 755): run chmod 700 ${dir}`,
    ]);
  });
});
