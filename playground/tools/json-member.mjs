// Reads one member of a JSON object as the bytes it was written with, for the
// tests and the sample builder, which take events out of the repository's
// fixture files byte for byte (a JSON.parse / stringify round trip would
// rewrite numbers and spacing). The page itself never splits JSON: the
// engine's splitter does (`splitEvents` of the web build).

const QUOTE = 0x22, BACKSLASH = 0x5c;
const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** The end (exclusive) of the JSON value starting at `i` in `b`, or -1. */
export function valueEnd(b, i) {
  const first = b[i];
  if (first === QUOTE) return stringEnd(b, i);
  if (first !== 0x7b && first !== 0x5b) {
    while (i < b.length && !SPACE.has(b[i]) && b[i] !== 0x2c && b[i] !== 0x7d && b[i] !== 0x5d) i++;
    return i;
  }
  let depth = 0;
  for (; i < b.length; i++) {
    const c = b[i];
    if (c === QUOTE) {
      i = stringEnd(b, i) - 1;
      if (i < 0) return -1;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if ((c === 0x7d || c === 0x5d) && --depth === 0) {
      return i + 1;
    }
  }
  return -1;
}

function stringEnd(b, i) {
  for (i++; i < b.length; i++) {
    if (b[i] === BACKSLASH) i++;
    else if (b[i] === QUOTE) return i + 1;
  }
  return -1;
}

const dec = new TextDecoder();

/** The bytes of member `key` of the JSON object in `bytes` (a Uint8Array), as written; null if absent. */
export function member(bytes, key) {
  let i = bytes.indexOf(0x7b) + 1;
  while (i > 0 && i < bytes.length) {
    while (i < bytes.length && bytes[i] !== QUOTE) i++;
    if (i >= bytes.length) return null;
    const keyEnd = valueEnd(bytes, i);
    if (keyEnd < 0) return null;
    const name = JSON.parse(dec.decode(bytes.subarray(i, keyEnd)));
    i = bytes.indexOf(0x3a, keyEnd) + 1;
    while (SPACE.has(bytes[i])) i++;
    const end = valueEnd(bytes, i);
    if (end < 0) return null;
    if (name === key) return bytes.subarray(i, end);
    i = end;
  }
  return null;
}
