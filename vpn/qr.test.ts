import jsqrModule from "jsqr";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { renderClientConfig } from "./client-config.js";
import { generateKeyPair } from "./keys.js";
import { configDownloads } from "./qr.js";

// jsqr is CommonJS with an `exports.default`; under Node's ESM interop the default import may be either.
type Decode = typeof jsqrModule.default;
const jsQR: Decode = typeof jsqrModule === "function" ? (jsqrModule as unknown as Decode) : (jsqrModule as { default: Decode }).default;

const config = (targets: string[]) =>
  renderClientConfig({
    address: "10.99.0.2",
    privateKey: generateKeyPair().privateKey,
    publicKey: generateKeyPair().publicKey,
    serverPublicKey: generateKeyPair().publicKey,
    serverAddress: "10.99.0.1",
    endpoint: "vpn.example.com:51820",
    targets,
    dns: ["10.10.0.1"],
    keepalive: 25,
  });

describe("config downloads for the portal", () => {
  it("returns the text and a PNG QR code that decodes back to exactly the config, and an SVG", async () => {
    const text = config(["10.10.0.21", "10.10.0.22"]);
    const d = await configDownloads("alice", text);
    expect(d.text).toBe(text);
    expect(d.filename).toBe("alice.conf");
    const png = PNG.sync.read(d.png);
    const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    expect(decoded?.data).toBe(text);
    expect(d.svg).toMatch(/^<svg[^>]*viewBox="0 0 \d+ \d+"/);
    expect(d.svg).toContain("<path");
  });

  it("refuses a config too large for a QR code with a clear error", async () => {
    const many = Array.from({ length: 256 }, (_, i) => `10.10.${i >> 8}.${i & 255}`);
    await expect(configDownloads("alice", config(many))).rejects.toMatchObject({ code: "config-too-large-for-qr" });
  });
});
