// Which instance and which boot wrote a line. The instance id comes from what the hypervisor
// exposes locally, never from IMDS: the analyzer must not make the traffic it measures.

export interface HostIdentity {
  /** The EC2 instance id, or null when the host does not say it (Xen, off EC2, malformed). */
  instance_id: string | null;
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
  return INSTANCE_ID.test(tag) ? tag : null;
}

export function bootIdFrom(text: string | null): string {
  const id = text?.trim() ?? '';
  return BOOT_ID.test(id) ? id : 'unknown';
}
