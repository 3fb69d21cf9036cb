// Portal support: a client configuration as downloadable text and as a QR code (PNG, SVG) for phone apps.
import QRCode from "qrcode";
import { ProxstackError } from "../lib/errors.js";

export interface ConfigDownloads {
  /** The wg-quick text, for a `<owner>.conf` download. */
  text: string;
  /** Suggested file name. @example alice.conf */
  filename: string;
  png: Buffer;
  svg: string;
}

/** Renders `config` as text, PNG and SVG QR codes (error correction M, as the WireGuard apps scan). */
export async function configDownloads(owner: string, config: string): Promise<ConfigDownloads> {
  const opts = { errorCorrectionLevel: "M" as const, margin: 2 };
  let png: Buffer;
  let svg: string;
  try {
    [png, svg] = await Promise.all([QRCode.toBuffer(config, { ...opts, type: "png", width: 512 }), QRCode.toString(config, { ...opts, type: "svg" })]);
  } catch (err) {
    // A QR code holds about 2,300 bytes at level M; a peer with very many containers exceeds it.
    throw new ProxstackError(
      "config-too-large-for-qr",
      `the VPN config of ${owner} (${config.length} bytes) is too large for a QR code; download the file instead`,
      { kind: "stall", status: 422, cause: err },
    );
  }
  return { text: config, filename: `${owner.replace(/[^a-z0-9-]/g, "_")}.conf`, png, svg };
}
