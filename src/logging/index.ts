// The logging room: JSON lines to rotated files (modes, no-follow, disk-full accounting),
// redaction, and the console mode's readable line.
export { createLogSink, REDACT_PATHS, type LifecycleEvent, type LogSink, type LogSinkOptions } from './sink.js';
export { type RotationOptions, type WriteCounters, PENDING_LIMIT_BYTES, LOG_FILE_PREFIX } from './rolling-file.js';
export { DIR_MODE, FILE_MODE } from './safe-files.js';
export { formatConsoleLine, requestMessage } from './console-line.js';
export { visible } from './visible.js';
export { Redactor, createKnownSecrets } from './redactor.js';
