// IPv4 arithmetic the programs need: parsing, CIDR membership and prefix length.

/** The address as an unsigned 32-bit integer; undefined when it is not dotted-quad IPv4. */
export function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** Prefix length of `a.b.c.d/n`; undefined when malformed. */
export function prefixLength(cidr: string): number | undefined {
  const [ip, bits, extra] = cidr.split("/");
  if (extra !== undefined || ip === undefined || bits === undefined || !/^\d{1,2}$/.test(bits)) return undefined;
  const n = Number(bits);
  return n <= 32 && ipv4ToInt(ip) !== undefined ? n : undefined;
}

/** Whether `ip` lies inside `cidr`. */
export function inCidr(ip: string, cidr: string): boolean {
  const addr = ipv4ToInt(ip);
  const [net] = cidr.split("/");
  const base = net === undefined ? undefined : ipv4ToInt(net);
  const bits = prefixLength(cidr);
  if (addr === undefined || base === undefined || bits === undefined) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(addr / size) === Math.floor(base / size);
}
