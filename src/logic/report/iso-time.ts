// Date.parse of the daemon's ISO times, fast: a report reads one per request line, and lines
// come in time order, so most share the minute of the line before. The minute is parsed once;
// seconds and milliseconds are added. Any text not of the writer's exact form goes to Date.parse.

const DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];
/** `YYYY-MM-DDTHH:MM:SS.mmmZ`: what is at the places that are not digits. */
const PUNCTUATION: Array<[number, number]> = [
  [4, 0x2d],
  [7, 0x2d],
  [10, 0x54],
  [13, 0x3a],
  [16, 0x3a],
  [19, 0x2e],
  [23, 0x5a],
];
const ISO_LENGTH = 24;
const MINUTE_LENGTH = 16;

const digitAt = (text: string, i: number) => text.charCodeAt(i) - 0x30;

export class IsoTimes {
  private minute = '';
  private minuteMs = Number.NaN;

  /** Date.parse(text), the same number (NaN included) for every text. */
  parse(text: string): number {
    if (!IsoTimes.writerForm(text)) return Date.parse(text);
    // Hour 24 is valid only as 24:00:00.000: not something to add seconds to.
    const seconds = digitAt(text, 17) * 10 + digitAt(text, 18);
    if (seconds > 59 || (digitAt(text, 11) === 2 && digitAt(text, 12) === 4)) return Date.parse(text);
    if (!text.startsWith(this.minute) || this.minute === '') {
      this.minute = text.slice(0, MINUTE_LENGTH);
      this.minuteMs = Date.parse(`${this.minute}:00.000Z`);
    }
    if (Number.isNaN(this.minuteMs)) return Date.parse(text);
    return this.minuteMs + seconds * 1000 + digitAt(text, 20) * 100 + digitAt(text, 21) * 10 + digitAt(text, 22);
  }

  private static writerForm(text: string): boolean {
    if (text.length !== ISO_LENGTH) return false;
    for (const [i, code] of PUNCTUATION) if (text.charCodeAt(i) !== code) return false;
    for (const i of DIGITS) {
      const d = digitAt(text, i);
      if (d < 0 || d > 9) return false;
    }
    return true;
  }
}
