// Watches the stacks directory with chokidar: debounced per file, editor temp files ignored, add/change/unlink (a rename is both).
import { basename, resolve } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import type { Logger } from "../lib/logger.js";
import { PLATFORM_FILE, PLATFORM_STACK } from "../programs/naming.js";
import { stackNameOfFile } from "./stack-index.js";
import type { Timers } from "./timers.js";

/** Whether a file name is an editor's temp, swap, backup or lock file (vim, emacs, JetBrains, sed -i …) or hidden. */
export function isEditorTempFile(name: string): boolean {
  return (
    name.startsWith(".") ||
    name.startsWith("#") ||
    name.endsWith("~") ||
    name.endsWith(".swp") ||
    name.endsWith(".swx") ||
    name.endsWith(".tmp") ||
    name === "4913" ||
    /^sed[A-Za-z0-9]{6}$/.test(name)
  );
}

/** Longer than chokidar's 50 ms per-path change throttle. */
const TRAILING_CHECK_MS = 75;

export interface StackWatcher {
  /** Resolves once chokidar has scanned the directory and events flow. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Calls `onChange(stack)` once per burst of events on a stack file (after `debounceMs` of quiet
 * for that file); `platform` for platform.yaml.
 */
export function watchStacks(dir: string, opts: { debounceMs: number; timers: Timers; log: Logger; onChange(stack: string): void }): StackWatcher {
  const root = resolve(dir);
  const pending = new Map<string, unknown>();
  const watcher: FSWatcher = watch(root, {
    ignoreInitial: true,
    depth: 0,
    ignored: (path: string) => {
      if (resolve(path) === root) return false;
      const name = basename(path);
      return isEditorTempFile(name) || stackNameOfFile(name) === undefined;
    },
  });
  const fire = (path: string): void => {
    opts.log.debug({ path }, "stack file event");
    const name = basename(path);
    const stack = name === PLATFORM_FILE ? PLATFORM_STACK : stackNameOfFile(name);
    if (stack === undefined) return;
    const t = pending.get(stack);
    if (t !== undefined) opts.timers.clearTimeout(t);
    pending.set(
      stack,
      opts.timers.setTimeout(() => {
        opts.onChange(stack);
        // chokidar drops a "change" that follows another within 50 ms on the same path (its
        // throttle), so the last write of a quick burst can go unseen: look once more after it.
        pending.set(
          stack,
          opts.timers.setTimeout(() => {
            pending.delete(stack);
            opts.onChange(stack);
          }, TRAILING_CHECK_MS),
        );
      }, opts.debounceMs),
    );
  };
  watcher.on("add", fire).on("change", fire).on("unlink", fire);
  watcher.on("error", (err) => opts.log.error({ err }, "watcher error; the periodic resync still converges"));
  const ready = new Promise<void>((r) => watcher.once("ready", () => r()));
  return {
    ready,
    async close() {
      for (const t of pending.values()) opts.timers.clearTimeout(t);
      pending.clear();
      await watcher.close();
    },
  };
}
