// Benchmark of the Proxmox simulator: status-endpoint throughput and task turnaround under 50 concurrent clients, against a bare node:http server.
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createProxmoxClient } from "../clients/proxmox/client.js";
import { startProxmoxSimulator } from "../sim/proxmox/server.js";
import type { Bench, BenchFigure } from "./bench.js";

const CLIENTS = 50;
const SECONDS = 3;

function get(agent: Agent, url: string, method = "GET", headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = request(url, { method, agent, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode} ${text}`))));
    });
    r.on("error", reject);
    r.end();
  });
}

/** Requests per second with CLIENTS loops hammering `url` for SECONDS. */
async function throughput(url: string, headers: Record<string, string>): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  let count = 0;
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < end) {
        await get(agent, url, "GET", headers);
        count++;
      }
    }),
  );
  agent.destroy();
  return count / SECONDS;
}

export const bench: Bench = {
  title: "Proxmox simulator: status throughput and task turnaround (50 concurrent clients)",
  description:
    `50 concurrent keep-alive clients on 127.0.0.1 for ${SECONDS} s each. Status throughput: GET …/lxc/{vmid}/status/current (token check, schema parameter check, SQLite read, stats, response check against the schema). ` +
    "Task turnaround: each client starts then stops its own container (task delay 0) and polls the task status every 5 ms until it has stopped; the figure is the mean time from POST to observing `stopped`. " +
    "Baseline: a bare node:http server answering a fixed JSON body through the same client loop (throughput), and one bare round trip (turnaround).",
  async run(): Promise<BenchFigure[]> {
    const dir = mkdtempSync(path.join(tmpdir(), "sim-bench-"));
    const bare = createServer((_req, res) => {
      const body = '{"data":{"status":"running","vmid":2000}}';
      res.writeHead(200, { "content-type": "application/json;charset=UTF-8", "content-length": body.length });
      res.end(body);
    });
    await new Promise<void>((r) => bare.listen(0, "127.0.0.1", r));
    const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`;
    const sim = await startProxmoxSimulator({
      dbPath: path.join(dir, "pve.db"),
      nodes: ["pve1"],
      templates: [{ vmid: 9000 }],
      taskDelayMs: 0,
      authFailureDelayMs: 0,
    });
    try {
      const client = createProxmoxClient({ endpoint: sim.url, token: sim.token, taskPollMs: 2 });
      for (let i = 0; i < CLIENTS; i++) await client.cloneContainer("pve1", 9000, { newid: 2000 + i });
      const auth = { authorization: `PVEAPIToken=${sim.token}` };

      const bareRps = await throughput(bareUrl, {});
      const statusRps = await throughput(`${sim.url}/api2/json/nodes/pve1/lxc/2000/status/current`, auth);

      const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
      const t0 = performance.now();
      for (let i = 0; i < 200; i++) await get(agent, bareUrl);
      const bareRtt = (performance.now() - t0) / 200;
      const times: number[] = [];
      const end = Date.now() + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, i) => {
          const base = `${sim.url}/api2/json/nodes/pve1`;
          let running = false;
          while (Date.now() < end) {
            const start = performance.now();
            const upid = (JSON.parse(await get(agent, `${base}/lxc/${2000 + i}/status/${running ? "stop" : "start"}`, "POST", auth)) as { data: string }).data;
            for (;;) {
              const st = (JSON.parse(await get(agent, `${base}/tasks/${encodeURIComponent(upid)}/status`, "GET", auth)) as { data: { status: string } }).data;
              if (st.status === "stopped") break;
              await new Promise((r) => setTimeout(r, 5));
            }
            times.push(performance.now() - start);
            running = !running;
          }
        }),
      );
      agent.destroy();
      const mean = times.reduce((a, b) => a + b, 0) / Math.max(1, times.length);
      return [
        { name: "GET status/current, 50 clients", value: statusRps, unit: "req/s", baseline: { name: "bare node:http, fixed JSON", value: bareRps } },
        { name: `task turnaround (start/stop, ${times.length} tasks)`, value: mean, unit: "ms", baseline: { name: "one bare round trip", value: bareRtt } },
      ];
    } finally {
      await sim.close();
      await new Promise<void>((r) => bare.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
