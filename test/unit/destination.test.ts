// IMDS endpoint recognition and address formatting (docs/imds.md "Where IMDS is").
import { describe, expect, it } from 'vitest';
import { formatAddress, imdsEndpoint } from '../../src/logic/destination.js';

describe('imdsEndpoint', () => {
  it('recognises both IMDS endpoints on port 80, as text and as bytes', () => {
    expect(imdsEndpoint('ipv4', '169.254.169.254', 80)).toBe('imds-ipv4');
    expect(imdsEndpoint('ipv4', Uint8Array.from([169, 254, 169, 254]), 80)).toBe('imds-ipv4');
    expect(imdsEndpoint('ipv6', 'fd00:ec2::254', 80)).toBe('imds-ipv6');
    expect(imdsEndpoint('ipv6', '[FD00:EC2:0:0:0:0:0:254]', 80)).toBe('imds-ipv6');
    const v6 = Uint8Array.from([0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x54]);
    expect(imdsEndpoint('ipv6', v6, 80)).toBe('imds-ipv6');
  });

  it('an IPv4-mapped IPv6 address of IMDS is IMDS over IPv4', () => {
    expect(imdsEndpoint('ipv6', '::ffff:169.254.169.254', 80)).toBe('imds-ipv4');
    expect(imdsEndpoint('ipv6', '::ffff:a9fe:a9fe', 80)).toBe('imds-ipv4');
    const mapped = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 169, 254, 169, 254]);
    expect(imdsEndpoint('ipv6', mapped, 80)).toBe('imds-ipv4');
  });

  it('ECS, EKS Pod Identity, other ports and malformed addresses are never IMDS', () => {
    expect(imdsEndpoint('ipv4', '169.254.170.2', 80)).toBeNull();
    expect(imdsEndpoint('ipv4', '169.254.170.23', 80)).toBeNull();
    expect(imdsEndpoint('ipv6', 'fd00:ec2::23', 80)).toBeNull();
    expect(imdsEndpoint('ipv6', '::ffff:169.254.170.2', 80)).toBeNull();
    expect(imdsEndpoint('ipv4', '169.254.169.254', 8080)).toBeNull();
    for (const bad of ['', '169.254.169', '169.254.169.254.1', '169.254.169.2540', 'fd00::ec2::254', 'zz::1']) {
      expect(imdsEndpoint(bad.includes(':') ? 'ipv6' : 'ipv4', bad, 80)).toBeNull();
    }
    expect(imdsEndpoint('ipv4', Uint8Array.from([169, 254, 169]), 80)).toBeNull();
  });
});

describe('formatAddress', () => {
  it('formats IPv4 and IPv6 (RFC 5952) and round-trips through imdsEndpoint', () => {
    expect(formatAddress('ipv4', Uint8Array.from([169, 254, 169, 254]))).toBe('169.254.169.254');
    const v6 = Uint8Array.from([0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x54]);
    expect(formatAddress('ipv6', v6)).toBe('fd00:ec2::254');
    expect(imdsEndpoint('ipv6', formatAddress('ipv6', v6), 80)).toBe('imds-ipv6');
    expect(formatAddress('ipv6', new Uint8Array(16))).toBe('::');
    expect(formatAddress('ipv6', Uint8Array.from([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]))).toBe(
      '2001:db8:0:1::1',
    );
    expect(formatAddress('ipv6', Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 169, 254, 169, 254]))).toBe(
      '::ffff:169.254.169.254',
    );
  });
  it('bytes of the wrong length are shown as hex, never a crash', () => {
    expect(formatAddress('ipv4', Uint8Array.from([1, 2]))).toBe('invalid-ipv4:0102');
  });
});
