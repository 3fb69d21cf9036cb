// PVE's named parameter formats (pve-vmid, pve-node, dns-name, pve-ipv4-config …) with JSONSchema.pm's messages.
import { isIPv4, isIPv6 } from "node:net";

const CONFIGID = /^[a-z][a-z0-9_]+$/i;
const DNS_NAME = /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)\.)*(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)$/;
const STORAGE_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
const NODE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)$/;
const VOLUME_ID = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i;
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;
const TAG = /^[a-z0-9_][a-z0-9_\-+.]*$/i;

function ipv4Cidr(v: string): boolean {
  const [ip, mask, extra] = v.split("/");
  return extra === undefined && ip !== undefined && isIPv4(ip) && mask !== undefined && /^\d+$/.test(mask) && Number(mask) <= 32;
}

function ipv6Cidr(v: string): boolean {
  const [ip, mask, extra] = v.split("/");
  return extra === undefined && ip !== undefined && isIPv6(ip) && mask !== undefined && /^\d+$/.test(mask) && Number(mask) <= 128;
}

type Check = (v: string) => string | undefined;

const list =
  (item: Check): Check =>
  (v) => {
    for (const part of v.split(/[,;\s]+/).filter(Boolean)) {
      const e = item(part);
      if (e) return e;
    }
    return undefined;
  };

const configid: Check = (v) => (CONFIGID.test(v) ? undefined : `invalid format - invalid configuration ID '${v}'`);
const vmid: Check = (v) => (/^[1-9]\d{2,8}$/.test(v) ? undefined : "invalid format - value does not look like a valid VM ID");

const FORMATS: Record<string, Check> = {
  "pve-vmid": vmid,
  "pve-vmid-list": list(vmid),
  "pve-node": (v) => (NODE.test(v) ? undefined : "invalid format - value does not look like a valid node name"),
  "pve-configid": configid,
  "pve-configid-list": list(configid),
  "pve-storage-id": (v) => (STORAGE_ID.test(v) ? undefined : `invalid format - storage ID '${v}' contains illegal characters`),
  "pve-volume-id": (v) => (VOLUME_ID.test(v) ? undefined : `invalid format - unable to parse volume ID '${v}'`),
  "pve-lxc-mp-string": (v) => (v.length > 0 && !/[,\0]/.test(v) ? undefined : "invalid format - value does not look like a valid mount point volume"),
  "dns-name": (v) => (DNS_NAME.test(v) ? undefined : `invalid format - value does not look like a valid DNS name`),
  "dns-name-list": list((v) => (DNS_NAME.test(v) ? undefined : `invalid format - value does not look like a valid DNS name`)),
  ipv4: (v) => (isIPv4(v) ? undefined : "invalid format - value does not look like a valid IPv4 address"),
  ipv6: (v) => (isIPv6(v) ? undefined : "invalid format - value does not look like a valid IPv6 address"),
  "mac-addr": (v) =>
    MAC.test(v) && (parseInt(v.slice(0, 2), 16) & 1) === 0 ? undefined : "invalid format - value does not look like a valid unicast MAC address",
  "pve-ipv4-config": (v) =>
    ["dhcp", "manual"].includes(v) || ipv4Cidr(v) ? undefined : "invalid format - value does not look like a valid IPv4 network configuration",
  "pve-ipv6-config": (v) =>
    ["auto", "dhcp", "manual"].includes(v) || ipv6Cidr(v) ? undefined : "invalid format - value does not look like a valid IPv6 network configuration",
  "lxc-ip-with-ll-iface-list": list((v) =>
    isIPv4(v) || isIPv6(v.split("%")[0] ?? "") ? undefined : `invalid format - value does not look like a valid IP address`,
  ),
  "disk-size": (v) => (/^\d+(\.\d+)?[KMGT]?$/.test(v) ? undefined : "invalid format - unable to parse disk size"),
  "pve-tag-list": list((v) => (TAG.test(v) ? undefined : `invalid format - invalid tag '${v}'`)),
  "pve-poolid": (v) => (/^[A-Za-z0-9_\-./]+$/.test(v) ? undefined : "invalid format - pool name contains illegal characters"),
  "pve-iface": (v) => (/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(v) ? undefined : "invalid format - invalid network interface name"),
  "pve-fw-dport-spec": portSpec,
  "pve-fw-sport-spec": portSpec,
  "pve-fw-protocol-spec": (v) => (/^([a-z][a-z0-9\-]*|\d{1,3})$/i.test(v) ? undefined : `invalid format - unknown protocol '${v}'`),
  "pve-fw-addr-spec": (v) =>
    v
      .split(",")
      .every((a) => isIPv4(a) || isIPv6(a) || ipv4Cidr(a) || ipv6Cidr(a) || /^(\+|\+[a-z]{2}\/)?[a-z][a-z0-9_-]*$/i.test(a) || /^[\d.]+-[\d.]+$/.test(a))
      ? undefined
      : `invalid format - invalid address spec '${v}'`,
};

function portSpec(v: string): string | undefined {
  for (const part of v.split(",")) {
    const range = part.split(":");
    if (range.length > 2) return `invalid format - invalid port '${part}'`;
    for (const p of range) {
      if (!/^\d+$/.test(p) && !/^[a-z][a-z0-9-]*$/i.test(p)) return `invalid format - invalid port '${p}'`;
      if (/^\d+$/.test(p) && (Number(p) < 1 || Number(p) > 65535)) return `invalid format - invalid port '${p}'`;
    }
  }
  return undefined;
}

/**
 * Checks a value against a named format; undefined when it passes or when the format is not
 * modelled (such formats are accepted as any string — listed in docs/simulation.md).
 */
export function checkNamedFormat(format: string, value: string): string | undefined {
  return FORMATS[format]?.(value);
}

/** Named formats the simulator checks; the rest are accepted as any string. */
export const CHECKED_FORMATS: readonly string[] = Object.keys(FORMATS);
