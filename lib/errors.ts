// The one error base: a code, what happens next (kind), and a cause chain formatted only at the edge.

/**
 * What the caller should do with an error.
 * - `stall`: the spec cannot be applied as written; stop until it changes.
 * - `retry`: transient; back off and try again.
 * - `bug`: unexpected; log the stack.
 */
export type ErrorKind = "stall" | "retry" | "bug";

export interface ProxstackErrorOptions {
  kind?: ErrorKind;
  cause?: unknown;
  /** Per-field messages, e.g. from an API's parameter check or a form. */
  fields?: Record<string, string>;
  /** HTTP status to answer with when this error reaches the HTTP edge. */
  status?: number;
}

export class ProxstackError extends Error {
  override name = "ProxstackError";
  readonly code: string;
  readonly kind: ErrorKind;
  readonly fields: Record<string, string> | undefined;
  readonly status: number | undefined;

  constructor(code: string, message: string, opts: ProxstackErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.kind = opts.kind ?? "bug";
    this.fields = opts.fields;
    this.status = opts.status;
  }
}

/** Chains messages of an error and its causes: `provision alice/web: proxmox: storage full`. */
export function chainMessage(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 10; depth++) {
    if (cur instanceof Error) {
      if (cur.message && !parts.at(-1)?.endsWith(cur.message)) parts.push(cur.message);
      cur = cur.cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join(": ");
}

/** The kind of any thrown value; foreign errors count as bugs. */
export function kindOf(err: unknown): ErrorKind {
  return err instanceof ProxstackError ? err.kind : "bug";
}
