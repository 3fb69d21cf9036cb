// Addresses of the VPN: the subnet and the server's address in it, stable client allocation, the container pool.
import { cidrSpan, inSpan, intToIpv4, ipv4ToInt, IPV4, type Ipv4Span } from "../schemas/common.js";
import { ProxstackError } from "../lib/errors.js";

export interface VpnNetwork {
  /** The subnet as given, e.g. `10.99.0.0/24`. */
  subnet: string;
  prefix: number;
  /** The server's address: the subnet's first host, e.g. `10.99.0.1`. */
  serverAddress: string;
  /** First and last address clients may get (after the server, before broadcast). */
  clients: Ipv4Span;
}

const CIDR = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/;

const invalid = (code: string, message: string) => new ProxstackError(code, message, { kind: "stall" });

/** Parses a subnet; throws a `vpn-subnet-invalid` stall naming the problem (callers turn it into a usage or config error). */
export function vpnNetwork(subnet: string): VpnNetwork {
  const m = CIDR.exec(subnet);
  if (!m || !IPV4.test(m[1] ?? "") || Number(m[2]) > 32)
    throw invalid("vpn-subnet-invalid", `'${subnet}' is not an IPv4 network in CIDR form such as 10.99.0.0/24`);
  const prefix = Number(m[2]);
  if (prefix > 30 || prefix < 8)
    throw invalid("vpn-subnet-invalid", `subnet ${subnet} must have a prefix from /8 to /30 (room for the server and at least one client)`);
  const span = cidrSpan(subnet);
  if (span.first !== ipv4ToInt(m[1] ?? ""))
    throw invalid("vpn-subnet-invalid", `subnet ${subnet} has host bits set; did you mean ${intToIpv4(span.first)}/${prefix}?`);
  return { subnet, prefix, serverAddress: intToIpv4(span.first + 1), clients: { first: span.first + 2, last: span.last - 1 } };
}

/** Parses the container pool CIDR (any prefix). */
export function poolSpan(pool: string): Ipv4Span {
  const m = CIDR.exec(pool);
  if (!m || !IPV4.test(m[1] ?? "") || Number(m[2]) > 32)
    throw invalid("vpn-pool-invalid", `'${pool}' is not an IPv4 network in CIDR form such as 10.10.0.0/24`);
  return cidrSpan(pool);
}

/** The lowest free client address, or undefined when the subnet is full. */
export function allocateAddress(net: VpnNetwork, used: Iterable<string>): string | undefined {
  const taken = new Set<number>();
  for (const a of used) taken.add(ipv4ToInt(a.replace(/\/\d+$/, "")));
  for (let n = net.clients.first; n <= net.clients.last; n++) {
    if (!taken.has(n)) return intToIpv4(n);
  }
  return undefined;
}

/** True when `ip` (dotted quad) lies in `span`. */
export function ipInSpan(ip: string, span: Ipv4Span): boolean {
  return inSpan(ipv4ToInt(ip), span);
}
