// Which file is on disk under a name, as far as a stat can tell: device, inode, size, mtime and ctime. Writes through the
// spec store replace a file by rename (a new inode) and hand edits change mtime and ctime, so a parse remembered under an
// identity is stale exactly when the identity differs — even for an edit of the same size within one mtime tick.
import { statSync, type Stats } from "node:fs";
import { stat } from "node:fs/promises";

export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

function identityOf(st: Stats | undefined): FileIdentity | undefined {
  return st?.isFile() ? { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs } : undefined;
}

/** The identity of the regular file at `path`; undefined when there is none. */
export function fileIdentitySync(path: string): FileIdentity | undefined {
  return identityOf(statSync(path, { throwIfNoEntry: false }));
}

export async function fileIdentity(path: string): Promise<FileIdentity | undefined> {
  return identityOf(await stat(path).catch(() => undefined));
}

/** Both files exist and are the same file with the same content as far as a stat tells. */
export const sameFile = (a: FileIdentity | undefined, b: FileIdentity | undefined): boolean =>
  a !== undefined && b !== undefined && a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.size === b.size && a.dev === b.dev;

/** Both absent, or both the same file. */
export const sameOrBothAbsent = (a: FileIdentity | undefined, b: FileIdentity | undefined): boolean => (a === undefined ? b === undefined : sameFile(a, b));
