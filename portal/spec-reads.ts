// Stack files as the portal reads them on every request, kept parsed and validated in memory and reused while the
// file on disk is the same one: same inode, size, mtime and ctime as when it was read (a sync stat, no read, no parse).
// Writes through the spec store replace the file by rename (a new inode), and hand edits change mtime/ctime, so either
// is seen on the next request. A user file is also read again when the platform file changes, since it is checked
// against it.
import { join } from "node:path";
import { DNS_LABEL, type PlatformSpec } from "../schemas/index.js";
import { fileIdentitySync as identity, sameFile as same, sameOrBothAbsent, type FileIdentity as Identity } from "../stackfiles/file-identity.js";
import type { SpecStore, StackFile } from "../stackfiles/spec-store.js";

/** Files remembered at most (oldest forgotten first). */
export const SPEC_READS_KEPT = 20_000;

/** `specs` with `read` and `platform` answered from memory while the files are unchanged; writes go straight through. */
export function cachedSpecReads(specs: SpecStore): SpecStore {
  const platformPath = join(specs.dir, "platform.yaml");
  let plat: { id: Identity; spec: Promise<PlatformSpec> } | undefined;
  const files = new Map<string, { id: Identity; platform: Identity | undefined; file: Promise<StackFile | undefined> }>();

  // The platform file is stat'ed once per event-loop turn, not once or twice per request: every request of a turn
  // sees the file as it was when the turn began (the next turn looks again).
  let platformThisTurn: { id: Identity | undefined } | undefined;
  const platformIdentity = (): Identity | undefined => {
    if (!platformThisTurn) {
      platformThisTurn = { id: identity(platformPath) };
      setImmediate(() => {
        platformThisTurn = undefined;
      });
    }
    return platformThisTurn.id;
  };

  function platform(): Promise<PlatformSpec> {
    const id = platformIdentity();
    if (id === undefined) return specs.platform();
    if (same(plat?.id, id)) return plat!.spec;
    const spec = specs.platform();
    const entry = { id, spec };
    plat = entry;
    spec.catch(() => {
      if (plat === entry) plat = undefined;
    });
    return spec;
  }

  function read(stack: string): Promise<StackFile | undefined> {
    if (!DNS_LABEL.test(stack) || stack === "platform") return specs.read(stack);
    const id = identity(join(specs.dir, `${stack}.yaml`));
    if (id === undefined) {
      files.delete(stack);
      return specs.read(stack);
    }
    const platformId = platformIdentity();
    const hit = files.get(stack);
    if (hit && same(hit.id, id) && sameOrBothAbsent(hit.platform, platformId)) return hit.file;
    const file = specs.read(stack);
    const entry = { id, platform: platformId, file };
    files.delete(stack);
    if (files.size >= SPEC_READS_KEPT) files.delete(files.keys().next().value ?? "");
    files.set(stack, entry);
    file.catch(() => {
      if (files.get(stack) === entry) files.delete(stack);
    });
    return file;
  }

  return {
    get dir() {
      return specs.dir;
    },
    platform,
    read,
    list: () => specs.list(),
    edit: (stack, author, message, mutate) => specs.edit(stack, author, message, mutate),
    create: (stack, author, message, text) => specs.create(stack, author, message, text),
  };
}
