// Shared simulator HTTP plumbing: a simulator keeps idle connections open longer than it tells clients to.
import { createServer } from "node:http";
import { describe, expect, it } from "vitest";
import { ADVERTISED_KEEP_ALIVE_S, closeServer, KEEP_ALIVE_MS, listen } from "./http.js";

describe("listen", () => {
  it("advertises Keep-Alive timeout=5 but holds idle connections 30 s, so clients always close first", async () => {
    const server = createServer((_req, res) => res.end("ok"));
    const port = await listen(server, "127.0.0.1", 0);
    try {
      expect(server.keepAliveTimeout).toBe(30_000);
      expect(KEEP_ALIVE_MS).toBeGreaterThan(ADVERTISED_KEEP_ALIVE_S * 1000);
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(res.headers.get("keep-alive")).toBe("timeout=5");
      expect(await res.text()).toBe("ok");
    } finally {
      await closeServer(server);
    }
  });
});
