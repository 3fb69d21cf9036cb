// Building blocks shared by the stack-file schemas: names, addresses, ranges and the API version.
import { z } from "zod";

/** The one apiVersion every stack file carries today. */
export const API_VERSION = "proxstack.dev/v1";

export const ApiVersionSchema = z
  .literal(API_VERSION)
  .describe(`Version of the stack-file format. Always "${API_VERSION}". @example ${API_VERSION}`);

/** RFC 1123 label: lower-case letters, digits and hyphens, 1–63, no hyphen at either end. */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const DnsLabelSchema = z
  .string()
  .max(63, "must be at most 63 characters (one DNS label)")
  .regex(DNS_LABEL, "must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit");

/** A fully qualified domain name: labels joined by dots, at most 253 characters. */
export const DomainNameSchema = z
  .string()
  .max(253, "must be at most 253 characters")
  .refine((s) => s.split(".").every((l) => DNS_LABEL.test(l)) && s.includes("."), {
    message: "must be a domain name such as example.com: DNS labels (a-z, 0-9, '-') joined by dots",
  });

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export const Ipv4Schema = z.string().regex(IPV4, "must be an IPv4 address such as 10.10.0.21");

export const CidrSchema = z
  .string()
  .refine(
    (s) => {
      const [ip, bits, extra] = s.split("/");
      return extra === undefined && ip !== undefined && IPV4.test(ip) && bits !== undefined && /^\d{1,2}$/.test(bits) && Number(bits) <= 32;
    },
    { message: "must be an IPv4 network in CIDR form such as 10.10.0.0/24" },
  );

/** An inclusive IPv4 range "a.b.c.d-e.f.g.h" or a single address. */
export const Ipv4RangeSchema = z
  .string()
  .refine((s) => s.split("-").length <= 2 && s.split("-").every((p) => IPV4.test(p)), {
    message: "must be an IPv4 address or an inclusive range such as 10.10.0.1-10.10.0.19",
  });

/** Proxmox VMIDs are integers from 100 to 999999999. */
export const VmidSchema = z.number().int("must be a whole number").min(100).max(999_999_999);

export const PortSchema = z.number().int("must be a whole number").min(1, "must be 1–65535").max(65535, "must be 1–65535");
