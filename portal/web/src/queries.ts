// Shared queries: the caller's instances, points, the catalog.
import { useQuery } from "@tanstack/react-query";
import { useSession } from "./context.tsx";
import type { Instance, Plan, Points } from "./logic.ts";

export function useInstances() {
  const s = useSession();
  return useQuery({ queryKey: ["instances"], queryFn: () => s.request<{ items: Instance[]; total: number }>("GET", "/api/instances?limit=100") });
}

export function usePoints() {
  const s = useSession();
  return useQuery({ queryKey: ["points"], queryFn: () => s.request<Points>("GET", "/api/points") });
}

export function usePlans() {
  const s = useSession();
  return useQuery({ queryKey: ["plans"], queryFn: () => s.request<{ items: Plan[] }>("GET", "/api/plans", undefined, { auth: false }), staleTime: 60_000 });
}

export function useTemplates() {
  const s = useSession();
  return useQuery({
    queryKey: ["templates"],
    queryFn: () => s.request<{ items: { name: string; description: string }[] }>("GET", "/api/templates", undefined, { auth: false }),
    staleTime: 60_000,
  });
}
