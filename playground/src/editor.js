// A plain text editor: a <textarea> with a line-number gutter that marks the
// lines with load errors. No dependency; fast enough for the 9,000-line
// built-in pack.

export class Editor {
  constructor(root, { onChange } = {}) {
    this.root = root;
    this.gutter = root.querySelector(".gutter");
    this.area = root.querySelector("textarea");
    this.lines = 0;
    this.marks = new Map();
    this.area.addEventListener("input", () => {
      this.renumber();
      onChange?.(this.area.value);
    });
    this.area.addEventListener("scroll", () => {
      this.gutter.scrollTop = this.area.scrollTop;
    });
    // Tab inserts two spaces instead of leaving the editor.
    this.area.addEventListener("keydown", (ev) => {
      if (ev.key === "Tab" && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
        ev.preventDefault();
        this.area.setRangeText("  ", this.area.selectionStart, this.area.selectionEnd, "end");
        this.area.dispatchEvent(new Event("input"));
      }
    });
  }

  get value() {
    return this.area.value;
  }

  set value(text) {
    this.area.value = text;
    this.area.scrollTop = 0;
    this.renumber();
  }

  renumber() {
    const text = this.area.value;
    let lines = 1;
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lines++;
    if (lines === this.lines) return;
    this.lines = lines;
    this.paint();
  }

  /** Marks lines with problems: `[{line, text}]` (1-based lines). */
  mark(problems) {
    this.marks = new Map();
    for (const p of problems) if (p.line) this.marks.set(p.line, [this.marks.get(p.line), p.text].filter(Boolean).join("\n"));
    this.paint();
  }

  paint() {
    const frag = document.createDocumentFragment();
    let plain = [];
    const flush = () => {
      if (plain.length) frag.append(plain.join("\n") + "\n");
      plain = [];
    };
    for (let n = 1; n <= this.lines; n++) {
      const mark = this.marks.get(n);
      if (!mark) {
        plain.push(String(n));
        continue;
      }
      flush();
      const span = document.createElement("span");
      span.className = "bad";
      span.title = mark;
      span.textContent = `${n}\n`;
      frag.append(span);
    }
    flush();
    this.gutter.replaceChildren(frag);
    this.gutter.scrollTop = this.area.scrollTop;
  }

  /** The character offset of 1-based `line`, `column`. */
  offset(line, column = 1) {
    const text = this.area.value;
    let at = 0;
    for (let n = 1; n < line; n++) {
      const next = text.indexOf("\n", at);
      if (next < 0) return text.length;
      at = next + 1;
    }
    const end = text.indexOf("\n", at);
    return Math.min(at + Math.max(column - 1, 0), end < 0 ? text.length : end);
  }

  /** The text of 1-based `line`. */
  line(line) {
    const start = this.offset(line, 1);
    const end = this.area.value.indexOf("\n", start);
    return this.area.value.slice(start, end < 0 ? undefined : end);
  }

  /** Puts the caret at `line:column` and scrolls it into view. */
  reveal(line, column = 1) {
    const start = this.offset(line, column);
    this.area.focus({ preventScroll: true });
    this.area.setSelectionRange(start, start);
    const lineHeight = parseFloat(getComputedStyle(this.area).lineHeight) || 18;
    this.area.scrollTop = Math.max(0, (line - 1) * lineHeight - this.area.clientHeight / 3);
    this.gutter.scrollTop = this.area.scrollTop;
  }
}
