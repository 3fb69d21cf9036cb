// A fingerprint of host files, so tests can prove that test hosts and hooks never touched the machine's own /etc.
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

/** Hashes paths (files, symlinks, directories recursively) with their modes and owners; missing paths count too. */
export function hashTree(paths: readonly string[]): string {
  const h = createHash("sha256");
  const visit = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      h.update(`${p}\0missing\n`);
      return;
    }
    h.update(`${p}\0${st.mode}\0${st.uid}\0${st.gid}\n`);
    if (st.isSymbolicLink()) h.update(readlinkSync(p));
    else if (st.isDirectory()) for (const name of readdirSync(p).sort()) visit(join(p, name));
    else if (st.isFile()) h.update(readFileSync(p));
  };
  for (const p of paths) visit(p);
  return h.digest("hex");
}
