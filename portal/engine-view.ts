// The narrow read side of the engine the portal sees: status of stacks and instances, the live event stream, and "look at this stack now".
import type { InstanceStatus, RunRecord, StackStatus, StatusEvent } from "../engine/status/store.js";

export type { InstanceStatus, RunRecord, StackStatus, StatusEvent };

export interface EngineView {
  getStack(name: string): StackStatus | undefined;
  listStacks(): StackStatus[];
  listInstances(stack: string): InstanceStatus[];
  listRuns(stack: string, limit: number): RunRecord[];
  /** Returns an unsubscribe function. */
  subscribe(listener: (e: StatusEvent) => void): () => void;
  /** Queues a stack ahead of resyncs (after a portal edit, or an admin's retry). */
  enqueue(stack: string): void;
  queueStats(): { queued: number; running: number; delayed: number };
}
