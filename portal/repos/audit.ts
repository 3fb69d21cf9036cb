// Audit events repository: every SQL statement about the portal's record of who did what (admin actions, bans, grants).
import type { PortalDb } from "../db.js";

export interface AuditEvent {
  id: number;
  at: string;
  actorId: number | undefined;
  subjectId: number | undefined;
  action: string;
  detail: Record<string, unknown>;
}

export interface AuditRepo {
  record(e: { actorId?: number; subjectId?: number; action: string; detail?: Record<string, unknown> }, now: Date): void;
  forSubject(subjectId: number, limit: number): AuditEvent[];
}

export function createAuditRepo(db: PortalDb): AuditRepo {
  const insert = db.prepare("INSERT INTO audit_events (at, actor_id, subject_id, action, detail) VALUES (?, ?, ?, ?, ?)");
  const list = db.prepare("SELECT * FROM audit_events WHERE subject_id = ? ORDER BY id DESC LIMIT ?");
  return {
    record: (e, now) => void insert.run(now.toISOString(), e.actorId ?? null, e.subjectId ?? null, e.action, JSON.stringify(e.detail ?? {})),
    forSubject(subjectId, limit) {
      return (
        list.all(subjectId, limit) as { id: number; at: string; actor_id: number | null; subject_id: number | null; action: string; detail: string }[]
      ).map((r) => {
        let detail: Record<string, unknown> = {};
        try {
          const v: unknown = JSON.parse(r.detail);
          if (v && typeof v === "object" && !Array.isArray(v)) detail = v as Record<string, unknown>;
        } catch {
          detail = {};
        }
        return { id: r.id, at: r.at, actorId: r.actor_id ?? undefined, subjectId: r.subject_id ?? undefined, action: r.action, detail };
      });
    },
  };
}
