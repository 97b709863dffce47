// A unit below user@UID.service is the user's own: the daemon writes it as
// `user@UID.service/<unit>` (with user_delegated on the line) because that user named it in the
// subtree systemd delegates to it. The report says so wherever it shows the unit, so that a user's
// `amazon-ssm-agent.service` is never read as the system service.
const USER_UNIT = /^user@(\d+)\.service\/./;

/** What the report adds to a unit a user named itself, or null for any other unit. */
export function userUnitNote(unit: string | null): string | null {
  const uid = unit === null ? undefined : USER_UNIT.exec(unit)?.[1];
  return uid === undefined ? null : `named by uid ${uid} in its own delegated cgroup subtree, not a system service`;
}
