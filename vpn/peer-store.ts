// The VPN service's own SQLite database (WAL): one row per peer; never a private key.
import Database from "better-sqlite3";
import { z } from "zod";
import { Ipv4Schema } from "../schemas/common.js";
import { ProxstackError } from "../lib/errors.js";

export interface PeerRecord {
  owner: string;
  /** Client address without prefix, e.g. `10.99.0.2`. */
  address: string;
  publicKey: string;
  targets: string[];
  createdAt: string;
  updatedAt: string;
}

export interface PeerStore {
  list(): PeerRecord[];
  get(owner: string): PeerRecord | undefined;
  /** Inserts or replaces the peer of `record.owner`. */
  upsert(record: PeerRecord): void;
  /** Inserts many records in one transaction (bulk loads, benchmarks). */
  upsertMany(records: readonly PeerRecord[]): void;
  remove(owner: string): boolean;
  close(): void;
}

const TargetsSchema = z.array(Ipv4Schema);

interface Row {
  owner: string;
  address: string;
  public_key: string;
  targets: string;
  created_at: string;
  updated_at: string;
}

function fromRow(r: Row): PeerRecord {
  const targets = TargetsSchema.safeParse(JSON.parse(r.targets));
  if (!targets.success)
    throw new ProxstackError("vpn-store-corrupt", `peer ${r.owner}: stored targets are malformed: ${targets.error.message}`, { kind: "bug" });
  return { owner: r.owner, address: r.address, publicKey: r.public_key, targets: targets.data, createdAt: r.created_at, updatedAt: r.updated_at };
}

/** Opens (and creates) the peer database at `file`; `:memory:` for tests. */
export function openPeerStore(file: string): PeerStore {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
  db.exec(`CREATE TABLE IF NOT EXISTS peers (
    owner TEXT PRIMARY KEY,
    address TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL UNIQUE,
    targets TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT`);
  const listStmt = db.prepare<[], Row>("SELECT * FROM peers ORDER BY owner");
  const getStmt = db.prepare<[string], Row>("SELECT * FROM peers WHERE owner = ?");
  const upsertStmt = db.prepare(
    `INSERT INTO peers (owner, address, public_key, targets, created_at, updated_at)
     VALUES (@owner, @address, @publicKey, @targets, @createdAt, @updatedAt)
     ON CONFLICT(owner) DO UPDATE SET address = excluded.address, public_key = excluded.public_key,
       targets = excluded.targets, updated_at = excluded.updated_at`,
  );
  const removeStmt = db.prepare("DELETE FROM peers WHERE owner = ?");
  const write = (r: PeerRecord) => upsertStmt.run({ ...r, targets: JSON.stringify(r.targets) });
  const writeMany = db.transaction((rs: readonly PeerRecord[]) => {
    for (const r of rs) write(r);
  });
  return {
    list: () => listStmt.all().map(fromRow),
    get: (owner) => {
      const r = getStmt.get(owner);
      return r ? fromRow(r) : undefined;
    },
    upsert: (r) => void write(r),
    upsertMany: (rs) => writeMany(rs),
    remove: (owner) => removeStmt.run(owner).changes > 0,
    close: () => db.close(),
  };
}
