// The session and the installation's facts (GET /api/mode) for every page.
import { useQuery } from "@tanstack/react-query";
import { createContext, useContext, useSyncExternalStore } from "react";
import type { Session, User } from "./api.ts";

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("SessionContext missing");
  return s;
}

export function useUser(): User | undefined {
  const s = useSession();
  return useSyncExternalStore(
    (l) => s.subscribe(l),
    () => s.user,
  );
}

export interface Mode {
  mode: "pulumi" | "simulation";
  providers: { proxmox: "real" | "simulated"; cloudflare: "real" | "simulated" };
  simulation: boolean;
  baseDomain: string;
  domains: { freePerInstance: number; extraPointsPerDay: number };
  runwayHours: number;
}

export function useMode(): Mode | undefined {
  const s = useSession();
  return useQuery({ queryKey: ["mode"], queryFn: () => s.request<Mode>("GET", "/api/mode", undefined, { auth: false }), staleTime: Infinity }).data;
}
