// The client's wg-quick configuration text: interface address (+DNS), the server as its one peer.
export interface ClientConfigInput {
  /** Client address without prefix, e.g. `10.99.0.2`. */
  address: string;
  /** The client's private key when the service generated it (returned once); omitted otherwise. */
  privateKey?: string;
  /** The client's public key (named in a comment when the private key is not included). */
  publicKey: string;
  serverPublicKey: string;
  serverAddress: string;
  /** HOST:PORT clients connect to. */
  endpoint: string;
  /** Container addresses the client may reach. */
  targets: string[];
  dns?: string[];
  /** Seconds between keepalives. @default 25 */
  keepalive: number;
}

/** AllowedIPs of the client: exactly the server's address and the owner's containers. */
export function clientAllowedIps(serverAddress: string, targets: readonly string[]): string[] {
  return [`${serverAddress}/32`, ...targets.map((t) => `${t}/32`)];
}

/** Renders the configuration in wg-quick format (`wg-quick strip` gives what `wg setconf` reads). */
export function renderClientConfig(c: ClientConfigInput): string {
  const lines = ["[Interface]"];
  if (c.privateKey !== undefined) lines.push(`PrivateKey = ${c.privateKey}`);
  else lines.push(`# PrivateKey = <the private key of ${c.publicKey}, which only you hold>`);
  lines.push(`Address = ${c.address}/32`);
  if (c.dns && c.dns.length > 0) lines.push(`DNS = ${c.dns.join(", ")}`);
  lines.push(
    "",
    "[Peer]",
    `PublicKey = ${c.serverPublicKey}`,
    `Endpoint = ${c.endpoint}`,
    `AllowedIPs = ${clientAllowedIps(c.serverAddress, c.targets).join(", ")}`,
    `PersistentKeepalive = ${c.keepalive}`,
    "",
  );
  return lines.join("\n");
}
