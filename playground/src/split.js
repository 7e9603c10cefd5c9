// Splits an input into events, as byte ranges, without parsing it: the engine
// gets each event's bytes exactly as written (so invalid JSON, bad UTF-8 and
// odd numbers reach it unchanged and get its own verdict).
//
// - a JSON array `[ev, ev, …]` (the whole input): one event per element;
// - NDJSON (the first line holds a complete value): one event per non-blank line;
// - otherwise (pretty-printed objects, one or several): one event per value.
// A `{"Records":[…]}` or `{"records":[…]}` batch is one event: the engine
// gives one verdict per record.

const SPACE = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) SPACE[c] = 1;
const QUOTE = 0x22, BACKSLASH = 0x5c, NEWLINE = 0x0a, CR = 0x0d;
const OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d, COMMA = 0x2c;

function skipSpace(b, i) {
  while (i < b.length && SPACE[b[i]]) i++;
  return i;
}

/** The end (exclusive) of the JSON value starting at `i`, or -1 if it never ends. */
export function valueEnd(b, i) {
  const first = b[i];
  if (first === QUOTE) return stringEnd(b, i);
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    while (i < b.length && !SPACE[b[i]] && b[i] !== COMMA && b[i] !== CLOSE_BRACE && b[i] !== CLOSE_BRACKET) i++;
    return i;
  }
  let depth = 0;
  for (; i < b.length; i++) {
    const c = b[i];
    if (c === QUOTE) {
      i = stringEnd(b, i) - 1;
      if (i < 0) return -1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (--depth === 0) return i + 1;
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

/** The elements of the array at `i` if it spans the whole rest of the input, else null. */
function arrayElements(b, i) {
  const spans = [];
  i = skipSpace(b, i + 1);
  if (b[i] === CLOSE_BRACKET) return skipSpace(b, i + 1) === b.length ? spans : null;
  for (;;) {
    const end = valueEnd(b, i);
    if (end < 0) return null;
    spans.push(i, end);
    i = skipSpace(b, end);
    if (b[i] === COMMA) i = skipSpace(b, i + 1);
    else if (b[i] === CLOSE_BRACKET) return skipSpace(b, i + 1) === b.length ? spans : null;
    else return null;
  }
}

function lines(b, start) {
  const spans = [];
  let i = start;
  while (i < b.length) {
    let end = b.indexOf(NEWLINE, i);
    if (end < 0) end = b.length;
    let last = end;
    while (last > i && (b[last - 1] === CR || SPACE[b[last - 1]])) last--;
    const first = skipSpace(b, i);
    if (first < last) spans.push(first, last);
    i = end + 1;
  }
  return spans;
}

function values(b, i) {
  const spans = [];
  while (i < b.length) {
    const end = valueEnd(b, i);
    if (end < 0) {
      spans.push(i, b.length); // unbalanced: the rest is one (invalid) event
      break;
    }
    spans.push(i, Math.max(end, i + 1));
    i = skipSpace(b, Math.max(end, i + 1));
  }
  return spans;
}

/**
 * The events of an input, as a flat array of byte offsets
 * `[start0, end0, start1, end1, …]` into `bytes` (a Uint8Array), and how
 * the input was read: `array`, `ndjson` or `values`.
 */
export function splitEvents(bytes) {
  const first = skipSpace(bytes, 0);
  if (first >= bytes.length) return { kind: "empty", spans: [] };
  if (bytes[first] === OPEN_BRACKET) {
    const spans = arrayElements(bytes, first);
    if (spans) return { kind: "array", spans };
  }
  const end = valueEnd(bytes, first);
  const newline = bytes.indexOf(NEWLINE, first);
  if (end < 0 || newline < 0 || end <= newline) return { kind: "ndjson", spans: lines(bytes, first) };
  return { kind: "values", spans: values(bytes, first) };
}
