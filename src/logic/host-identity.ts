// Which instance, region and boot wrote a line. The instance id comes from what the hypervisor
// exposes locally and the region from what cloud-init wrote at boot, never from IMDS: the
// analyzer must not make the traffic it measures.

export interface HostIdentity {
  /** The EC2 instance id, or null when the host does not say it (Xen, off EC2, malformed). */
  instance_id: string | null;
  /**
   * The instance's AWS region as cloud-init recorded it, or null when it has not (yet: at boot
   * the daemon starts before cloud-init, and looks again later) or not on AWS.
   */
  region: string | null;
  /** /proc/sys/kernel/random/boot_id, or "unknown" when it cannot be read. */
  boot_id: string;
}

/** Instance ids: "i-" and 8 hex digits (before 2016) or 17. */
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The instance id in a Nitro DMI board asset tag, else null. Off EC2 the tag is free text
 * ("Default string", a vendor's serial): only an exact instance id shape counts.
 */
export function instanceIdFromAssetTag(text: string | null): string | null {
  if (text === null) return null;
  const tag = text.trim();
  return isInstanceId(tag) ? tag : null;
}

export const isInstanceId = (text: string): boolean => INSTANCE_ID.test(text);

export function bootIdFrom(text: string | null): string {
  const id = text?.trim() ?? '';
  return BOOT_ID.test(id) ? id : 'unknown';
}

/** AWS region names: a partition's two letters, a geography, a number (us-east-1, us-gov-west-1, us-isob-east-1). */
const REGION = /^[a-z]{2}(?:-[a-z]+){1,2}-\d{1,2}$/;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The region in cloud-init's instance-data.json (`v1.region`), else null: not JSON, no v1
 * object, a cloud other than AWS, or a value not shaped like an AWS region name.
 */
export function regionFromInstanceData(text: string | null): string | null {
  if (text === null) return null;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  const v1 = isRecord(data) ? data.v1 : undefined;
  if (!isRecord(v1)) return null;
  // cloud-init names its keys with underscores now and with dashes before (both are written).
  const cloud = v1.cloud_name ?? v1['cloud-name'];
  if (cloud !== undefined && cloud !== 'aws') return null;
  return typeof v1.region === 'string' && isRegionName(v1.region) ? v1.region : null;
}

export const isRegionName = (text: string): boolean => REGION.test(text);
