// Facts of the IMDS protocol that several rooms need (docs/imds.md).

/** The instance metadata service's addresses and port (IPv4, and IPv6 on Nitro). */
export const IMDS_IPV4 = '169.254.169.254';
export const IMDS_IPV6 = 'fd00:ec2::254';
export const IMDS_PORT = 80;

/** Request headers of IMDSv2, lower-case as the parser compares them. */
export const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
export const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';

export const IMDS_VERSIONS = ['v1', 'v2', 'unknown'] as const;
export type ImdsVersion = (typeof IMDS_VERSIONS)[number];
