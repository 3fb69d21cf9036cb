// Test helper for the client and simulator suites: the ProxstackError a promise rejects with.
import { ProxstackError } from "../lib/errors.js";

/** Resolves with the ProxstackError `p` rejects with; throws when it resolves or fails otherwise. */
export async function rejection(p: Promise<unknown>): Promise<ProxstackError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ProxstackError) return e;
    throw e;
  }
  throw new Error("expected the call to fail");
}
