// The portal bench's load generator, run as a child process so autocannon never shares the server's event loop:
// the parent sends one job over IPC, this process runs it and sends autocannon's result back, then exits.
import autocannon from "autocannon";

export interface LoadJob {
  url: string;
  /** Bearer tokens, used round-robin, one per request. */
  tokens: string[];
  connections: number;
  durationS: number;
}

export type LoadReply = { ok: true; result: autocannon.Result } | { ok: false; error: string };

async function run(job: LoadJob): Promise<autocannon.Result> {
  let i = 0;
  return autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.durationS,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${job.tokens[i++ % job.tokens.length] ?? ""}` } }) }],
  });
}

process.once("message", (job: LoadJob) => {
  run(job).then(
    (result) => process.send?.({ ok: true, result } satisfies LoadReply, () => process.exit(0)),
    (err: unknown) => process.send?.({ ok: false, error: String(err) } satisfies LoadReply, () => process.exit(1)),
  );
});
