// The optional "real containers" hook: a simulated container can be backed by a real test host (testhosts/).

/**
 * Called by the Proxmox simulator when a container starts, stops or is deleted. An implementation
 * brings up a real host (e.g. a network namespace with sshd) answering on `ip`. Without one, a
 * running container has an address but no services; the simulator says so in the start task's
 * log (`simulation: … no services …`) and in its own log.
 *
 * When the simulator restarts it calls `start` again for containers stored as running, and on
 * close it calls `stop` for them, so `start` must be idempotent. Errors thrown by `start` fail the
 * start task with that message.
 */
export interface ContainerBacking {
  start(c: { vmid: number; ip: string; hostname: string }): Promise<void>;
  stop(vmid: number): Promise<void>;
  destroy(vmid: number): Promise<void>;
}
