// The object loads on a libuv thread (libbpf's CO-RE, the kernel's verifier, the maps)
// while the daemon loads zod and checks its config: with what the config file most likely
// says, used only if the checked config agrees. Not on a restart: the fds systemd handed
// back are taken over once, with the checked config; then the object's preallocated maps
// are made ahead on a libuv thread instead.
import { closeSync } from 'node:fs';
import {
  Capture,
  type CaptureOptions,
  type LoadedObject,
  loadObject,
  loadSettings,
  prepareMaps,
} from '../capture/capture.js';
import type { Config } from '../config/index.js';
import { likelyLoadSettings } from '../config/likely.js';
import type { PrintHandler } from '../libbpf/libbpf.js';
import type { FdStore } from './fd-store.js';

export interface CaptureLoading {
  /** The capture, attached with the checked config (the early load if it agrees). */
  attach(config: Config): Promise<Capture>;
  /** Lets go of what was loaded or made ahead and never attached. */
  close(): void;
}

export function startLoading(
  objectPath: string,
  fdStore: FdStore,
  likely: { configPath: string | undefined; buffer: string | undefined },
  libbpfLog: PrintHandler,
): CaptureLoading {
  const inheritedFds = fdStore.inherited;
  const early: Promise<LoadedObject | null> | null =
    inheritedFds.length === 0
      ? loadObject({
          objectPath,
          ...likelyLoadSettings(likely.configPath, likely.buffer),
          libbpfLog,
          inheritedFds: [],
        }).catch(() => null)
      : null;
  const premadeMaps = early ? undefined : (prepareMaps(objectPath) ?? undefined);
  let claimed = false;
  return {
    async attach(config) {
      claimed = true;
      const options: CaptureOptions = {
        objectPath,
        cacheDir: config.cacheDir,
        buffer: config.buffer.kind,
        ringSizeKB: config.buffer.ringSizeKB,
        perfPagesPerCpu: config.buffer.perfPagesPerCpu,
        stateDir: config.stateDir,
        libbpfLog,
        inheritedFds,
        continuity: fdStore.available,
        premadeMaps,
      };
      const loaded = await early;
      if (loaded && loaded.settings === loadSettings(options)) return Capture.attach(loaded, options);
      loaded?.close();
      return Capture.open(options);
    },
    close() {
      if (claimed) return;
      void early?.then((loaded) => loaded?.close());
      void premadeMaps?.then((maps) => {
        for (const fd of maps.values()) closeSync(fd);
      });
    },
  };
}
