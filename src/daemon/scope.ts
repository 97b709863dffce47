// What the daemon acquires, in one place: each resource is registered once, right where it
// is acquired, with how to let go of it; dispose() lets go of everything, newest first, on
// whatever path the daemon ends (a stop, a failed start, an exception).
type Release = () => void | Promise<void>;

export class DisposalScope {
  private readonly releases: Release[] = [];

  /** Registers `resource` with how to release it; returns it, so that acquiring and registering are one step. */
  add<T>(resource: T, release: (resource: T) => void | Promise<void>): T {
    this.releases.push(() => release(resource));
    return resource;
  }

  /** A scope of its own (released with this one, or earlier by its own dispose()). */
  child(): DisposalScope {
    return this.add(new DisposalScope(), (scope) => scope.dispose());
  }

  /**
   * Releases everything registered, newest first. A release that fails does not keep the
   * others from running; the first failure is thrown at the end. Safe to call twice.
   */
  async dispose(): Promise<void> {
    let failure: { error: unknown } | null = null;
    for (let release = this.releases.pop(); release; release = this.releases.pop()) {
      try {
        await release();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}
