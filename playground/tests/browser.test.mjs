// The playground in real headless Chromium (Debian's, through playwright-core):
// samples run and give the expected rows, a broken rule is shown at its
// line:column, fixing and changing it changes the results, files open, the
// chart is drawn, the component transpiled by jco gives the golden verdicts
// in the page too, and the page makes no request off 127.0.0.1. Screenshots go
// to target/playground/. Needs `just build-web` and scripts/setup-web.sh.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { open } from "./chromium.mjs";
import { corpus, golden } from "./corpus.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const shots = `${root}target/playground/`;
mkdirSync(shots, { recursive: true });
const samples = JSON.parse(readFileSync(new URL("../pkg/samples.json", import.meta.url), "utf8"));

let browser, page;
const offsite = [];
const problems = [];

/** The table's rows as the page shows them. */
async function rows() {
  return page.$$eval("#table tbody tr.row", (trs) =>
    trs.map((tr) => {
      const td = [...tr.children].map((c) => c.textContent.trim());
      const status = ["match", "no_match", "suppressed", "unrecognised", "error"].find((s) => tr.classList.contains(s));
      return { n: td[0], time: td[1], cloud: td[2], op: td[3], principal: td[4], category: td[5], points: td[6], score: td[7], alert: td[8] === "ALERT", status };
    }),
  );
}

async function runAndWait() {
  await page.keyboard.press("Control+Enter");
  await page.waitForFunction(() => /^(Done|Not run|The engine failed)/.test(document.getElementById("run-status").textContent));
  return page.textContent("#run-status");
}

async function runSample(id) {
  await page.selectOption("#sample", id);
  const status = await runAndWait();
  assert.match(status, /^Done: /, status);
  return rows();
}

/** Puts the caret in the rule pack editor at `offset`. */
async function caret(offset) {
  await page.click("#tab-pack");
  await page.$eval("#pack-editor textarea", (ta, at) => {
    ta.focus();
    ta.setSelectionRange(at, at);
  }, offset);
}

function lineColumn(text, offset) {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

describe("the playground in Chromium", { concurrency: false }, () => {
  before(async () => {
    browser = await open();
    page = await browser.context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => m.type() === "error" && problems.push(`console error: ${m.text()}`));
    const origin = new URL(browser.url).origin;
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
      offsite.push(url);
      return route.abort();
    });
    await page.goto(browser.url);
    await page.evaluate(() => window.playground.ready);
  });

  after(async () => {
    await browser?.close();
  });

  it("loads the engine and the built-in pack", async () => {
    await page.waitForFunction(() => document.getElementById("check-status").textContent.startsWith("✓"));
    assert.match(await page.textContent("#check-status"), /^✓ \d{3} rules loaded, config OK$/);
    const pack = await page.$eval("#pack-editor textarea", (ta) => ta.value);
    assert.ok(pack.startsWith("# ==== rules/operations.toml ===="), pack.slice(0, 60));
    assert.equal(await page.textContent("#edited"), "The built-in pack.");
    assert.ok((await page.$$("#sample option")).length >= 10, "the samples are listed");
  });

  it("runs the end-to-end scenarios with the expected rows and categories", async () => {
    for (const sample of samples.filter((s) => s.id.startsWith("spec-"))) {
      const got = await runSample(sample.id);
      assert.equal(got.length, sample.expect.length, `${sample.id}: one row per event`);
      for (const [i, want] of sample.expect.entries()) {
        if (!want) continue;
        const where = `${sample.id} row ${i + 1}: ${JSON.stringify(got[i])}`;
        assert.equal(got[i].status, want.status, where);
        if (want.category) assert.equal(got[i].category, want.category, where);
        if (want.score !== undefined) assert.equal(Number(got[i].score), want.score, where);
        if (want.alert !== undefined && want.alert) assert.ok(got[i].alert, where);
      }
      if (sample.id === "spec-4") {
        assert.equal(got.filter((r) => r.alert).length, 1, "scenario 4 alerts once");
        await page.screenshot({ path: `${shots}playground.png`, fullPage: true });
      }
      if (sample.id === "spec-5") assert.ok(got.every((r) => r.status === "suppressed" && !r.alert), "scenario 5: no alert");
    }
  });

  it("draws the score timeline with the threshold and the alert", async () => {
    await runSample("spec-4");
    assert.equal(await page.$$eval("#chart svg line.threshold", (l) => l.length), 1);
    assert.ok((await page.$$eval("#chart svg polyline.score", (l) => l.length)) >= 1);
    assert.equal(await page.$$eval("#chart svg circle", (c) => c.length), 6, "one point per scored event");
    assert.equal(await page.$$eval("#chart svg circle.alert", (c) => c.length), 1);
    assert.match(await page.textContent("#chart svg .threshold-label"), /alert threshold 10/);
    assert.match(await page.$eval("#principal", (s) => s.selectedOptions[0].textContent), /^carol@contoso\.com .*1 alert/);
    await page.locator("#timeline").screenshot({ path: `${shots}timeline.png` });
  });

  it("expands a row to its tagged event, and filters alerts", async () => {
    await page.click("#table tbody tr.row.is-alert");
    await page.waitForSelector("tr.detail .detail-grid");
    const detail = await page.textContent("tr.detail");
    assert.match(detail, /Tagged event/);
    assert.match(detail, /"threat":/);
    assert.match(detail, /"alert":/);
    assert.match(detail, /Expected by tests\/scenarios\//);
    await page.check("#only-alerts");
    assert.equal((await rows()).length, 1);
    await page.uncheck("#only-alerts");
    await page.check("#only-matches");
    assert.equal((await rows()).length, 6);
    await page.uncheck("#only-matches");
  });

  it("shows a broken rule at its line and column, and new results once fixed", async () => {
    const before = await runSample("spec-1");
    assert.equal(before[0].category, "CREATE");
    assert.equal(before[0].points, "+1");

    const pack = await page.$eval("#pack-editor textarea", (ta) => ta.value);
    const rule = pack.indexOf('id = "aws-ebs-snapshot-created"');
    const query = pack.indexOf('event.provider == "ec2.amazonaws.com"', rule);
    const equals = query + "event.provider ".length;
    await caret(equals + 1);
    await page.keyboard.press("Backspace"); // `==` becomes `=`, which EQL refuses
    const status = await runAndWait();
    assert.match(status, /^Not run: the rule pack has a problem/, status);
    const want = lineColumn(pack, equals);
    const problem = await page.textContent("#problems li");
    assert.match(problem, new RegExp(`^Rule pack: line ${want.line}:${want.column} E202 rule "aws-ebs-snapshot-created": \`=\` is not supported`), problem);
    assert.equal(await page.textContent("#pack-editor .gutter .bad"), `${want.line}\n`, "the gutter marks the line");
    assert.equal(await page.$eval("#pack-editor textarea", (ta) => ta.selectionStart), equals, "the caret is on the error");
    assert.match(await page.textContent("#check-status"), /^✗ 1 problem/);
    assert.deepEqual(await rows(), before, "the last results stay");
    await page.screenshot({ path: `${shots}rule-error.png` });

    // Fix it, and make the rule worth 7 points: the results follow.
    await caret(equals);
    await page.keyboard.type("=");
    const queryLine = pack.lastIndexOf("\n", pack.indexOf("query = ", rule)) + 1;
    await caret(queryLine);
    await page.keyboard.type("points = 7\n");
    await page.waitForFunction(() => document.getElementById("check-status").textContent.startsWith("✓"));
    assert.equal(await page.$$eval("#problems li", (l) => l.length), 0);
    const status2 = await runAndWait();
    assert.match(status2, /^Done/, status2);
    const after = await rows();
    assert.equal(after[0].points, "+7", JSON.stringify(after[0]));
    assert.equal(Number(after[3].score), Number(before[3].score) + 6, "the principal's score follows");
    assert.equal(await page.textContent("#edited"), "Edited (kept in this browser).");
  });

  it("keeps the edited pack and config across a reload, and shows config errors at their key", async () => {
    await page.waitForTimeout(500); // the editors save after a pause in typing
    await page.reload();
    await page.evaluate(() => window.playground.ready);
    assert.match(await page.$eval("#pack-editor textarea", (ta) => ta.value), /points = 7\nquery = '''/);
    await page.click("#tab-config");
    const config = await page.$eval("#config-editor textarea", (ta) => ta.value);
    const at = config.indexOf('"threshold": 10') + '"threshold": '.length;
    await page.$eval("#config-editor textarea", (ta, at) => {
      ta.focus();
      ta.setSelectionRange(at, at + 2);
    }, at);
    await page.keyboard.type('"ten"');
    await page.waitForFunction(() => document.getElementById("check-status").textContent.startsWith("✗"));
    // The engine places a config problem at its key's opening quote.
    const want = lineColumn(config, config.indexOf('"threshold"'));
    assert.match(await page.textContent("#problems li"), new RegExp(`^Config: line ${want.line}:${want.column} E302: scoring.threshold must be a number`));
    await page.$eval("#config-editor textarea", (ta) => {
      ta.value = ta.value.replace('"ten"', "5");
      ta.dispatchEvent(new Event("input"));
    });
    await page.waitForFunction(() => document.getElementById("check-status").textContent.startsWith("✓"));
    const got = await runSample("spec-3");
    assert.equal(got.length, 2);
    // Reset both: the built-in pack and the default config again.
    await page.click("#reset");
    await page.click("#tab-pack");
    await page.click("#reset");
    assert.equal(await page.textContent("#edited"), "The built-in pack.");
  });

  it("runs a Sigma rule pasted into the editor, and lists a rule it cannot run as a warning", async () => {
    const sigma = [
      "title: EBS Snapshot Created",
      "id: 6d6f6477-6174-6368-0000-00000000b001",
      "logsource:",
      "    product: aws",
      "    service: cloudtrail",
      "detection:",
      "    selection:",
      "        eventSource: ec2.amazonaws.com",
      "        eventName: CreateSnapshot",
      "    condition: selection",
      "level: low",
      "---",
      "title: Windows Shell",
      "id: 6d6f6477-6174-6368-0000-00000000b002",
      "logsource:",
      "    product: windows",
      "detection:",
      "    sel:",
      "        Image|endswith: cmd.exe",
      "    condition: sel",
      "",
    ].join("\n");
    await page.click("#tab-pack");
    await page.$eval("#pack-editor textarea", (ta, text) => {
      ta.value = text;
      ta.dispatchEvent(new Event("input"));
    }, sigma);
    await page.waitForFunction(() => document.getElementById("check-status").textContent.startsWith("✓ 2 rules"));
    assert.equal(await page.textContent("#check-status"), "✓ 2 rules loaded, config OK, 1 warning");
    const warning = await page.textContent("#problems li.warning");
    assert.match(warning, /^Rule pack warning: line 16:\d+ E206 rule "6d6f6477-6174-6368-0000-00000000b002": .*product: windows/, warning);
    const got = await runSample("spec-1");
    // The Sigma rule tags the snapshot's creation, with the catalogue's category; nothing else matches.
    assert.equal(got[0].status, "match", JSON.stringify(got[0]));
    assert.equal(got[0].category, "CREATE");
    assert.ok(got.slice(1).every((r) => r.status !== "match"), JSON.stringify(got));
    assert.equal(await page.$$eval("#problems li.warning", (l) => l.length), 1, "the warning stays after the run");
    await page.click("#reset");
    assert.equal(await page.textContent("#edited"), "The built-in pack.");
  });

  it("counts the alerts of Sigma correlation rules in the summary", async () => {
    const cards = () =>
      page.$$eval("#summary .card", (all) => all.map((c) => [c.querySelector("span").textContent, c.querySelector("b").textContent]));
    const path = `${shots}correlations.ndjson`;
    const rows = readFileSync(`${root}tests/sigma/correlations.ndjson`, "utf8").split("\n").filter(Boolean);
    writeFileSync(path, rows.map((l) => JSON.stringify(JSON.parse(l).event)).join("\n"));
    await page.setInputFiles("#file", path);
    await page.waitForFunction(() => document.getElementById("sample-note").textContent.startsWith("Opened correlations.ndjson"));
    await runAndWait();
    // The built-in pack has no correlation rules: no such card.
    assert.equal((await cards()).find(([label]) => label === "Correlation alerts"), undefined);
    await page.click("#tab-pack");
    await page.$eval("#pack-editor textarea", (ta, text) => {
      ta.value = text;
      ta.dispatchEvent(new Event("input"));
    }, readFileSync(`${root}tests/sigma/correlations.yml`, "utf8"));
    await page.waitForFunction(() => document.getElementById("check-status").textContent.startsWith("✓"));
    await runAndWait();
    // tests/sigma/correlations.ndjson: seven alerts.
    assert.deepEqual((await cards()).find(([label]) => label === "Correlation alerts"), ["Correlation alerts", "7"]);
    await page.click("#reset");
    assert.equal(await page.textContent("#edited"), "The built-in pack.");
  });

  it("opens a file: a CloudTrail S3 batch gives one row per record", async () => {
    await page.setInputFiles("#file", `${root}tests/corpus/s3-batch.json`);
    await page.waitForFunction(() => document.getElementById("sample-note").textContent.startsWith("Opened s3-batch.json"));
    const status = await runAndWait();
    // The engine's splitter reads a batch object as its records, as the CLI does.
    assert.match(status, /^Done: 9 events \(batch object\)/, status);
    const got = await rows();
    assert.deepEqual(got.map((r) => r.n), ["1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    // tests/corpus/README.md: records 1, 2 and 9 match.
    assert.deepEqual(got.map((r) => r.status === "match"), [true, true, false, false, false, false, false, false, true]);
  });

  it("runs a large file in the worker with progress, the page staying responsive", async () => {
    const lines = readFileSync(`${root}tests/corpus/events.ndjson`, "utf8").split("\n").filter(Boolean);
    const events = lines.map((l) => JSON.stringify(JSON.parse(l).event));
    const many = Array.from({ length: 20_000 }, (_, i) => events[i % events.length]).join("\n");
    const path = `${shots}many.ndjson`;
    writeFileSync(path, many);
    await page.setInputFiles("#file", path);
    assert.equal(await page.isVisible("#file-chip"), true, "a large file is run from disk, not shown");
    await page.keyboard.press("Control+Enter");
    // While it runs, the main thread keeps running: its timers fire and it shows the progress.
    // Not a wall-clock bound (a loaded machine delays timers whatever the page does): a run on
    // the main thread would let no timer fire before it ended, so no progress would be seen.
    const seen = await page.evaluate(async () => {
      const progress = new Set();
      let ticks = 0;
      for (; ticks < 2_000 && !document.getElementById("run-status").textContent.startsWith("Done"); ticks++) {
        await new Promise((r) => setTimeout(r, 10));
        const text = document.getElementById("run-status").textContent;
        if (text.includes(" of ")) progress.add(text);
      }
      return { ticks, progress: [...progress] };
    });
    await page.waitForFunction(() => document.getElementById("run-status").textContent.startsWith("Done"), null, { timeout: 120_000 });
    assert.match(await page.textContent("#run-status"), /^Done: 20,000 events \(NDJSON\)/);
    assert.ok(seen.ticks >= 2 && seen.progress.length >= 1, `the page's timers ran and it showed progress while the worker ran (${JSON.stringify(seen)})`);
    assert.match(await page.textContent("#pager"), /of 20,000/);
    await page.click("#file-clear");
    rmSync(path);
  });

  it("runs the component transpiled by jco beside the wasm-bindgen build, with the golden verdicts", async () => {
    // The page's origin serves pkg/jco/ (`just build-jco`) like pkg/.
    const events = corpus().map((e) => Array.from(e.bytes));
    const got = await page.evaluate(async (events) => {
      const { detection } = await import("/pkg/jco/modwatch.js");
      const engine = detection.Engine.create(undefined, undefined);
      const verdicts = events.flatMap((e) => engine.evaluate(new Uint8Array(e)).map((v) => v.json));
      const chunk = engine.tagChunk(new Uint8Array(events[0]), new Uint32Array([events[0].length]));
      return { verdicts, chunkRecords: chunk.records };
    }, events);
    assert.deepEqual(got.verdicts, golden);
    assert.equal(got.chunkRecords, 1);
  });

  it("made no request off 127.0.0.1 and logged no error", () => {
    assert.deepEqual(offsite, [], "requests off the local server");
    assert.deepEqual(problems, []);
  });
});
