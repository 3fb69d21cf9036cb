// The hook registry: one handler per hook type, looked up by the type written in hook data.
import { ProxstackError } from "../lib/errors.js";
import type { HookHandler } from "./hook.js";

export interface HookRegistry {
  get(type: string): HookHandler<unknown> | undefined;
  types(): string[];
}

/** Builds a registry from handlers; two handlers for one type is a bug caught at start-up. */
// `any`: handlers of different parameter types share one table; each checks its own params at run time.
export function createHookRegistry(handlers: readonly HookHandler<any>[]): HookRegistry {
  const byType = new Map<string, HookHandler<unknown>>();
  for (const h of handlers) {
    if (byType.has(h.type)) throw new ProxstackError("hook-duplicate-type", `two hook handlers for type '${h.type}'`, { kind: "bug" });
    byType.set(h.type, h as HookHandler<unknown>);
  }
  return {
    get: (type) => byType.get(type),
    types: () => [...byType.keys()].sort(),
  };
}
