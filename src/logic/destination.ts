// Which IMDS endpoint, if any, a connection's destination is (docs/imds.md).
// Neighbours on the same link-local ranges are never IMDS: ECS task metadata and
// container credentials (169.254.170.2), EKS Pod Identity (169.254.170.23, fd00:ec2::23).
// An IPv4-mapped IPv6 address (::ffff:169.254.169.254, a dual-stack socket) is IMDS over IPv4.
import { IMDS_IPV4, IMDS_IPV6, IMDS_PORT } from '../model/imds.js';

export type AddressFamily = 'ipv4' | 'ipv6';
export type ImdsEndpoint = 'imds-ipv4' | 'imds-ipv6';

const IPV4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function sameBytes(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Dotted-quad text to 4 bytes, or null when it is not one. */
function parseIpv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : Number.NaN));
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : null;
}

/** IPv6 text (with `::` and an optional dotted-quad tail) to 16 bytes, or null. */
function parseIpv6(text: string): number[] | null {
  let body = text.replace(/^\[|\]$/g, '');
  const zone = body.indexOf('%');
  if (zone >= 0) body = body.slice(0, zone);
  let tail: number[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (!v4) return null;
    tail = v4;
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    const n = Number.parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

const IMDS_IPV4_BYTES = parseIpv4(IMDS_IPV4) ?? [];
const IMDS_IPV6_BYTES = parseIpv6(IMDS_IPV6) ?? [];

function toBytes(family: AddressFamily, address: Uint8Array | string): number[] | null {
  if (typeof address !== 'string') return Array.from(address);
  return family === 'ipv4' ? parseIpv4(address) : parseIpv6(address);
}

/** The IMDS endpoint a destination is, or null (other address, other port, malformed). */
export function imdsEndpoint(family: AddressFamily, address: Uint8Array | string, port: number): ImdsEndpoint | null {
  if (port !== IMDS_PORT) return null;
  const bytes = toBytes(family, address);
  if (!bytes) return null;
  if (family === 'ipv4') return sameBytes(bytes, IMDS_IPV4_BYTES) ? 'imds-ipv4' : null;
  if (bytes.length !== 16) return null;
  if (sameBytes(bytes, IMDS_IPV6_BYTES)) return 'imds-ipv6';
  if (sameBytes(bytes.slice(0, 12), IPV4_MAPPED_PREFIX) && sameBytes(bytes.slice(12), IMDS_IPV4_BYTES))
    return 'imds-ipv4';
  return null;
}

/**
 * Address bytes as text: dotted quad for IPv4; for IPv6 the RFC 5952 form (lower case,
 * longest run of two or more zero groups as `::`, IPv4-mapped tail as a dotted quad).
 * Bytes of the wrong length are shown as hex so a bad record stays visible, never a crash.
 */
export function formatAddress(family: AddressFamily, bytes: Uint8Array): string {
  if (family === 'ipv4' && bytes.length === 4) return Array.from(bytes).join('.');
  if (family === 'ipv6' && bytes.length === 16) {
    if (sameBytes(bytes.subarray(0, 12), IPV4_MAPPED_PREFIX))
      return `::ffff:${Array.from(bytes.subarray(12)).join('.')}`;
    const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
    let bestStart = -1;
    let bestLength = 1;
    for (let i = 0; i < 8; ) {
      let j = i;
      while (j < 8 && groups[j] === 0) j++;
      if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
      i = j === i ? i + 1 : j;
    }
    const hex = groups.map((g) => g.toString(16));
    if (bestStart < 0) return hex.join(':');
    return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
  }
  return `invalid-${family}:${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
