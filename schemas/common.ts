// Building blocks shared by the stack-file schemas: names, addresses, ranges and the API version.
import { z } from "zod";

/** The one apiVersion every stack file carries today. */
export const API_VERSION = "proxstack.dev/v1";

export const ApiVersionSchema = z.literal(API_VERSION).describe(`Version of the stack-file format. Always "${API_VERSION}". @example ${API_VERSION}`);

/** RFC 1123 label: lower-case letters, digits and hyphens, 1–63, no hyphen at either end. */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Longest DNS label and longest full name (RFC 1035 §2.3.4). */
export const MAX_DNS_LABEL = 63;
export const MAX_DNS_NAME = 253;

export const DnsLabelSchema = z
  .string()
  .max(MAX_DNS_LABEL, "must be at most 63 characters (one DNS label)")
  .regex(DNS_LABEL, "must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit");

const LABEL_SRC = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
/** A domain name of at least two labels; written as a regex so JSON Schema expresses it too. */
export const DOMAIN_NAME = new RegExp(`^(${LABEL_SRC}\\.)+${LABEL_SRC}$`);

/** A fully qualified domain name: labels joined by dots, at most 253 characters. */
export const DomainNameSchema = z
  .string()
  .max(MAX_DNS_NAME, "must be at most 253 characters")
  .regex(DOMAIN_NAME, "must be a domain name such as example.com: DNS labels (a-z, 0-9, '-') joined by dots");

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4_SRC = `${OCTET}(\\.${OCTET}){3}`;
/** A dotted-quad IPv4 address without leading zeros. */
export const IPV4 = new RegExp(`^${IPV4_SRC}$`);
export const CIDR = new RegExp(`^${IPV4_SRC}/(3[0-2]|[12]?\\d)$`);
export const IPV4_RANGE = new RegExp(`^${IPV4_SRC}(-${IPV4_SRC})?$`);

export const Ipv4Schema = z.string().regex(IPV4, "must be an IPv4 address such as 10.10.0.21");

export const CidrSchema = z.string().regex(CIDR, "must be an IPv4 network in CIDR form such as 10.10.0.0/24");

/** An inclusive IPv4 range "a.b.c.d-e.f.g.h" or a single address. */
export const Ipv4RangeSchema = z.string().regex(IPV4_RANGE, "must be an IPv4 address or an inclusive range such as 10.10.0.1-10.10.0.19");

/** Proxmox VMIDs are integers from 100 to 999999999. */
export const VmidSchema = z
  .number()
  .int("must be a whole number")
  .min(100, "must be a Proxmox VMID from 100 to 999999999")
  .max(999_999_999, "must be a Proxmox VMID from 100 to 999999999");

export const PortSchema = z.number().int("must be a whole number").min(1, "must be 1–65535").max(65535, "must be 1–65535");

/** An IPv4 address as an unsigned 32-bit number; the caller passes a string that matches IPV4. */
export function ipv4ToInt(ip: string): number {
  return ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** The dotted-quad form of an unsigned 32-bit number. */
export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** An inclusive range of IPv4 addresses as numbers. */
export interface Ipv4Span {
  first: number;
  last: number;
}

/** The addresses of a CIDR network, network and broadcast addresses included. */
export function cidrSpan(cidr: string): Ipv4Span {
  const [ip = "0.0.0.0", bits = "32"] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  const first = Math.floor(ipv4ToInt(ip) / size) * size;
  return { first, last: first + size - 1 };
}

/** The addresses of "a.b.c.d-e.f.g.h" or of a single address. */
export function rangeSpan(range: string): Ipv4Span {
  const [from = "0.0.0.0", to = from] = range.split("-");
  return { first: ipv4ToInt(from), last: ipv4ToInt(to) };
}

/** Whether an address (as a number) lies in a span. */
export function inSpan(n: number, span: Ipv4Span): boolean {
  return n >= span.first && n <= span.last;
}
