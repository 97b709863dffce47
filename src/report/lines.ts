// Lines of one log file, streamed (the daemon reads its own directory with the same code).
export { MAX_LINE_CHARS, readLineBatches, readLineChunks, readLines } from '../logging/read-lines.js';
