// Date.parse of the daemon's ISO times, fast: a report reads one per request line, and lines
// come in time order, so most share the day of the line before. The day is parsed once; hours,
// minutes, seconds and milliseconds are added (ISO times in UTC have no leap seconds). Any text
// not of the writer's exact form, or with a field out of range, goes to Date.parse.

const ISO_LENGTH = 24;
const DAY_LENGTH = 10;
const HOUR_MS = 3600_000;
const MINUTE_MS = 60_000;

const digitAt = (text: string, i: number) => text.charCodeAt(i) - 0x30;
const isDigit = (d: number) => d >= 0 && d <= 9;

/** `YYYY-MM-DDTHH:MM:SS.mmmZ` with every digit a digit. */
function writerForm(text: string): boolean {
  if (
    text.length !== ISO_LENGTH ||
    text.charCodeAt(4) !== 0x2d ||
    text.charCodeAt(7) !== 0x2d ||
    text.charCodeAt(10) !== 0x54 ||
    text.charCodeAt(13) !== 0x3a ||
    text.charCodeAt(16) !== 0x3a ||
    text.charCodeAt(19) !== 0x2e ||
    text.charCodeAt(23) !== 0x5a
  )
    return false;
  for (let i = 0; i < ISO_LENGTH - 1; i++) {
    if (i === 4 || i === 7 || i === 10 || i === 13 || i === 16 || i === 19) continue;
    if (!isDigit(digitAt(text, i))) return false;
  }
  return true;
}

const twoDigits = (text: string, i: number) => digitAt(text, i) * 10 + digitAt(text, i + 1);

export class IsoTimes {
  private day = '';
  private dayMs = Number.NaN;

  /** Date.parse(text), the same number (NaN included) for every text. */
  parse(text: string): number {
    if (!writerForm(text)) return Date.parse(text);
    const hours = twoDigits(text, 11);
    const minutes = twoDigits(text, 14);
    const seconds = twoDigits(text, 17);
    // Hour 24 is valid only as 24:00:00.000: Date.parse decides.
    if (hours > 23 || minutes > 59 || seconds > 59) return Date.parse(text);
    if (this.day === '' || !text.startsWith(this.day)) {
      this.day = text.slice(0, DAY_LENGTH);
      this.dayMs = Date.parse(`${this.day}T00:00:00.000Z`);
    }
    if (Number.isNaN(this.dayMs)) return Number.NaN;
    const millis = digitAt(text, 20) * 100 + twoDigits(text, 21);
    return this.dayMs + hours * HOUR_MS + minutes * MINUTE_MS + seconds * 1000 + millis;
  }
}
