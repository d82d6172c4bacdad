/**
 * UUIDs as flat strings: random ones (version 4) and time-ordered ones (version 7, the stores' ids).
 *
 * crypto.randomUUID assembles its result from some twenty concatenated pieces, which V8 keeps as a
 * chain of cons strings; even flattened, each id stays an indirection to its characters, and a Map of
 * runs by id paid for it on every insert: measured here, making 20,000 ids and inserting each into a
 * Map took 2.2 us per id with randomUUID(), 0.67 us with flat ones (then decoded from a Buffer). The
 * random bytes are the same kind (crypto.randomFillSync, the CSPRNG randomUUID draws from, taken 4 KB
 * at a time as randomUUID does); only the formatting differs: one flat string, made from its codes.
 */
import { randomFillSync } from "node:crypto";

/** Makes an id; `now`, when given, is the time of what it names (a time-ordered id may use it). */
export type IdGenerator = (now?: number) => string;

const IDS_PER_FILL = 256;
const entropy = Buffer.alloc(16 * IDS_PER_FILL);
let offset = entropy.length;
const HEX = new Uint8Array(Buffer.from("0123456789abcdef", "latin1"));
const DASH = 0x2d;

export const randomId: IdGenerator = () => {
  const at = nextRandom(16);
  entropy[at + 6] = (entropy[at + 6]! & 0x0f) | 0x40; // version 4
  entropy[at + 8] = (entropy[at + 8]! & 0x3f) | 0x80; // RFC 9562 variant
  return uuidText(entropy, at);
};

let lastMs = -1;
let counter = 0;
const stamped = new Uint8Array(16);

/**
 * Time-ordered UUIDs (version 7, RFC 9562): the Unix time in ms (`now`, the clock's reading of the
 * event the id names, else Date.now()), then a 12-bit counter, then 62 random bits. Each is greater
 * than the one before, as strings too, within the process: in one millisecond the counter counts up
 * (from a random start below 2048), and should it run out, or the time go back, the time is carried on
 * from the last id's. Stores use them for every id, so that the ids of runs are in trigger order: the
 * in-memory store finds a run by binary search over its runs, and PostgreSQL's index on them grows at
 * one end (a random id lands anywhere in it).
 */
export const timeOrderedId: IdGenerator = (time = Date.now()) => {
  timeOrderedBytes(stamped, 0, time);
  return uuidText(stamped, 0);
};

/** A time-ordered id (as timeOrderedId's, the same sequence) as its 16 bytes, written into `into` at `at`. */
export function timeOrderedBytes(into: Uint8Array, at: number, time = Date.now()): void {
  // Whole milliseconds, as the id holds them: two readings within one ms must share its counter. A
  // reading before 1970 counts as 1970's first ms (the id's 48 bits hold no sign), so that the ids still
  // only go up, as the in-memory store relies on (lib/runIds.ts).
  const now = Math.max(0, Math.floor(time));
  if (now > lastMs) {
    lastMs = now;
    counter = entropy[nextRandom(2)]! | ((entropy[offset - 1]! & 0x07) << 8);
  } else if (++counter > 0xfff) {
    lastMs++;
    counter = 0;
  }
  // The 48-bit time, big-endian: the top 16 bits, then the low 32 (bitwise operators take 32 bits).
  const high = Math.floor(lastMs / 0x1_0000_0000);
  into[at] = high >> 8;
  into[at + 1] = high;
  into[at + 2] = lastMs >>> 24;
  into[at + 3] = lastMs >>> 16;
  into[at + 4] = lastMs >>> 8;
  into[at + 5] = lastMs;
  into[at + 6] = 0x70 | (counter >> 8); // version 7
  into[at + 7] = counter & 0xff;
  const random = nextRandom(8);
  into[at + 8] = (entropy[random]! & 0x3f) | 0x80; // RFC 9562 variant
  for (let i = 1; i < 8; i++) into[at + 8 + i] = entropy[random + i]!;
}

/** The offset of `n` fresh random bytes in `entropy`. */
function nextRandom(n: number): number {
  if (offset + n > entropy.length) {
    randomFillSync(entropy);
    offset = 0;
  }
  offset += n;
  return offset - n;
}

/**
 * A UUID's text from its 16 bytes in `b` at `at` (as the ids above are made): its 36 characters, made in
 * one call from their character codes, with no buffer to decode and no call into C++ (making 5 million
 * ids took 2,670 machine instructions an id with Buffer#toString, 1,860 with this, counted with valgrind).
 */
export function uuidText(b: Uint8Array, at: number): string {
  const b0 = b[at]!, b1 = b[at + 1]!, b2 = b[at + 2]!, b3 = b[at + 3]!, b4 = b[at + 4]!, b5 = b[at + 5]!, b6 = b[at + 6]!, b7 = b[at + 7]!;
  const b8 = b[at + 8]!, b9 = b[at + 9]!, b10 = b[at + 10]!, b11 = b[at + 11]!, b12 = b[at + 12]!, b13 = b[at + 13]!, b14 = b[at + 14]!, b15 = b[at + 15]!;
  const H = HEX;
  return String.fromCharCode(
    H[b0 >> 4]!, H[b0 & 15]!, H[b1 >> 4]!, H[b1 & 15]!, H[b2 >> 4]!, H[b2 & 15]!, H[b3 >> 4]!, H[b3 & 15]!, DASH,
    H[b4 >> 4]!, H[b4 & 15]!, H[b5 >> 4]!, H[b5 & 15]!, DASH,
    H[b6 >> 4]!, H[b6 & 15]!, H[b7 >> 4]!, H[b7 & 15]!, DASH,
    H[b8 >> 4]!, H[b8 & 15]!, H[b9 >> 4]!, H[b9 & 15]!, DASH,
    H[b10 >> 4]!, H[b10 & 15]!, H[b11 >> 4]!, H[b11 & 15]!, H[b12 >> 4]!, H[b12 & 15]!,
    H[b13 >> 4]!, H[b13 & 15]!, H[b14 >> 4]!, H[b14 & 15]!, H[b15 >> 4]!, H[b15 & 15]!,
  );
}

/** Each character's value as a hex digit (lowercase only, as the ids are made); -1 for any other. */
const DIGIT = new Int8Array(128).fill(-1);
for (let c = 0; c < 16; c++) DIGIT[HEX[c]!] = c;

/**
 * Writes the 16 bytes of the UUID `id` (lowercase, as uuidText writes it) into `into` at `at`; false,
 * with `into` partly written, when `id` is not one.
 */
export function uuidBytes(id: string, into: Uint8Array, at: number): boolean {
  if (id.length !== 36) return false;
  for (let i = 0, byte = 0; i < 36; i += 2, byte++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (id.charCodeAt(i) !== DASH) return false;
      i++;
    }
    const high = digit(id.charCodeAt(i));
    const low = digit(id.charCodeAt(i + 1));
    if (high < 0 || low < 0) return false;
    into[at + byte] = (high << 4) | low;
  }
  return true;
}

const digit = (code: number): number => (code < 128 ? DIGIT[code]! : -1);
