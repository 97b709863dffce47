// Lines of one log file, streamed (the daemon reads its own directory with the same code).
export {
  eachLineOf,
  MAX_LINE_CHARS,
  readLineChunks,
  readLines,
  readTextChunks,
} from '../logging/read-lines.js';
