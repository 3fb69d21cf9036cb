// Single-use terminal tickets: 32 random bytes, valid for a short time, bound to one account and one instance.
import { randomBytes } from "node:crypto";
import type { Clock } from "../lib/clock.js";

export interface Ticket {
  accountId: number;
  stack: string;
  instance: string;
  expiresAt: number;
}

export interface TicketStore {
  issue(t: Omit<Ticket, "expiresAt">): { ticket: string; expiresAt: Date };
  /** The ticket's binding, once: a second use, an unknown or an expired ticket gives undefined. */
  take(ticket: string): Ticket | undefined;
}

export function createTicketStore(clock: Clock, ttlMs: number): TicketStore {
  const tickets = new Map<string, Ticket>();
  const sweep = (now: number) => {
    for (const [k, t] of tickets) if (t.expiresAt <= now) tickets.delete(k);
  };
  return {
    issue(t) {
      const now = clock.now().getTime();
      sweep(now);
      const ticket = randomBytes(32).toString("base64url");
      const expiresAt = now + ttlMs;
      tickets.set(ticket, { ...t, expiresAt });
      return { ticket, expiresAt: new Date(expiresAt) };
    },
    take(ticket) {
      const t = tickets.get(ticket);
      tickets.delete(ticket);
      if (!t || t.expiresAt <= clock.now().getTime()) return undefined;
      return t;
    },
  };
}
