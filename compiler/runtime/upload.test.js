// Unit tests of upload.js with the transfers stubbed: `node --test compiler/runtime/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_PARALLEL_UPLOADS, Uploads, UploadError, accepts, choose, formatSize, xhrSender } from "./upload.js";

const file = (name, size, type = "") => ({ name, size, type });

/** A sender whose transfers the test settles by hand: `sent[i]` has `resolve`, `reject`, `progress`. */
function fakeSender() {
  const sent = [];
  const send = (f, token, onProgress) => {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const transfer = {
      file: f,
      token,
      aborted: false,
      resolve: (id) => resolve({ id, name: f.name, size: f.size, content_type: f.type }),
      reject: (code, message) => reject(new UploadError(code, message)),
      progress: onProgress,
      abort() {
        if (this.aborted) return;
        this.aborted = true;
        reject(new UploadError("cancelled", "The upload was cancelled."));
      },
    };
    sent.push(transfer);
    return { promise, abort: () => transfer.abort() };
  };
  return { sent, send };
}

function setup({ token = "T" } = {}) {
  const { sent, send } = fakeSender();
  const reports = [];
  const uploads = new Uploads({ send, token: () => token, report: (e) => reports.push(e) });
  const queued = [];
  return { uploads, sent, reports, queued, queue: (events) => queued.push(...events) };
}

const save = { handler: "docs.save", args: { files: { $upload_files: "photos" }, note: "hi" } };

test("sizes read for people", () => {
  assert.equal(formatSize(512), "512 B");
  assert.equal(formatSize(1536), "1.5 KB");
  assert.equal(formatSize(2 * 1024 * 1024), "2 MB");
});

test("kinds match by media type, family or extension", () => {
  assert.ok(accepts(file("a.PNG", 1, "image/png"), ["image/*"]));
  assert.ok(accepts(file("A.PDF", 1, ""), [".pdf"]));
  assert.ok(accepts(file("a", 1, "application/pdf"), ["application/pdf"]));
  assert.ok(!accepts(file("a.exe", 1, "application/x-msdownload"), ["image/*", ".pdf"]));
  assert.ok(!accepts(file("pdf", 1, ""), [".pdf"]));
});

test("a choice is checked against the zone's rules", () => {
  const files = [file("a.png", 10, "image/png"), file("b.exe", 10, "application/x-msdownload"), file("c.png", 5000, "image/png")];
  const { accepted, error } = choose(files, { accept: ["image/*"], maxSize: 1024 });
  assert.deepEqual(
    accepted.map((f) => f.name),
    ["a.png"],
  );
  assert.match(error, /"b\.exe" is not of an accepted type \(image\/\*\)/);
  assert.match(error, /"c\.png" \(4\.9 KB\) is larger than 1 KB/);
  const tooMany = choose(files, { maxFiles: 2 });
  assert.deepEqual(tooMany.accepted, []);
  assert.equal(tooMany.error, "Choose at most 2 files (3 were chosen).");
  assert.equal(choose(files, { multiple: false }).error, "Choose at most 1 file (3 were chosen).");
  assert.deepEqual(choose(files.slice(0, 1)), { accepted: files.slice(0, 1), error: null });
});

test("selecting files sets the zone's vars and notifies their listeners", () => {
  const { uploads, reports } = setup();
  const seen = [];
  uploads.subscribe("selected$photos", () => seen.push(uploads.getVar("selected$photos")));
  assert.deepEqual(uploads.getVar("selected$photos"), []);
  assert.equal(uploads.getVar("selected$photos"), uploads.getVar("selected$photos"), "a stable snapshot");
  uploads.select("photos", [file("a.png", 1), file("b.png", 2)]);
  assert.deepEqual(seen, [["a.png", "b.png"]]);
  assert.equal(uploads.getVar("progress$photos"), 0);
  uploads.select("photos", [file("x", 1), file("y", 1)], { maxFiles: 1 });
  assert.deepEqual(uploads.getVar("selected$photos"), ["a.png", "b.png"], "a refused choice keeps the files");
  assert.equal(uploads.getVar("error$photos"), "Choose at most 1 file (2 were chosen).");
  assert.deepEqual(reports, [{ code: "rejected", message: "Choose at most 1 file (2 were chosen)." }]);
  uploads.clear("photos");
  assert.deepEqual(uploads.getVar("selected$photos"), []);
  assert.equal(uploads.getVar("error$photos"), null);
});

test("events without an upload go to the queue at once", () => {
  const { uploads, queued, queue } = setup();
  const events = [{ handler: "counter.add", args: { by: 1 } }, { handler: "_toast", args: { message: "x" } }];
  assert.equal(uploads.dispatch(events, queue), undefined);
  assert.deepEqual(queued, events);
});

test("a trigger's events are queued once every file uploaded, with the files' ids", async () => {
  const { uploads, sent, queued, queue } = setup();
  uploads.select("photos", [file("a.png", 100), file("b.png", 300)]);
  const progress = [];
  uploads.subscribe("progress$photos", () => progress.push(uploads.getVar("progress$photos")));
  const done = uploads.dispatch([save, { handler: "_clear_selected_files", args: { id: "photos" } }], queue);
  assert.equal(sent.length, 2, "every file at once");
  assert.equal(sent[0].token, "T");
  sent[0].progress(100);
  sent[1].progress(100);
  assert.deepEqual(progress, [0.25, 0.5]);
  sent[1].resolve("id-b");
  await Promise.resolve();
  assert.deepEqual(queued, [], "not before all arrived");
  sent[0].resolve("id-a");
  await done;
  assert.deepEqual(queued, [
    { handler: "docs.save", args: { files: [{ $upload: "id-a" }, { $upload: "id-b" }], note: "hi" } },
    { handler: "_clear_selected_files", args: { id: "photos" } },
  ]);
  assert.equal(uploads.getVar("progress$photos"), 1);
});

test("an empty zone sends an empty list", async () => {
  const { uploads, queued, queue } = setup();
  await uploads.dispatch([save], queue);
  assert.deepEqual(queued[0].args.files, []);
});

test("a failed upload queues nothing, stops the others, reports and resets the progress", async () => {
  const { uploads, sent, queued, queue, reports } = setup();
  uploads.select("photos", [file("a", 10), file("b", 10)]);
  const done = uploads.dispatch([save], queue);
  sent[0].progress(10);
  assert.equal(uploads.getVar("progress$photos"), 0.5);
  sent[1].reject("upload_too_large", "the file takes 10 bytes, over this server's limit of 5 bytes");
  await done;
  assert.deepEqual(queued, []);
  assert.ok(sent[0].aborted, "the other transfer is stopped");
  assert.equal(uploads.getVar("progress$photos"), 0);
  assert.deepEqual(reports, [{ code: "upload_too_large", message: "the file takes 10 bytes, over this server's limit of 5 bytes" }]);
  assert.match(uploads.getVar("error$photos"), /over this server's limit/);
  // The files stay chosen: a second try sends them again.
  const again = uploads.dispatch([save], queue);
  assert.equal(sent.length, 4);
  sent[2].resolve("a2");
  sent[3].resolve("b2");
  await again;
  assert.equal(queued.length, 1);
});

test("a cancelled upload queues nothing", async () => {
  const { uploads, sent, queued, queue, reports } = setup();
  uploads.select("photos", [file("big", 1000)]);
  const done = uploads.dispatch([save], queue);
  sent[0].progress(400);
  uploads.cancel("photos");
  await done;
  assert.deepEqual(queued, []);
  assert.equal(uploads.getVar("progress$photos"), 0);
  assert.equal(reports[0].code, "cancelled");
  assert.equal(uploads.getVar("error$photos"), null, "a cancel is no error of the zone");
});

test("without a token nothing is sent", async () => {
  const { uploads, sent, queued, queue, reports } = setup({ token: null });
  uploads.select("photos", [file("a", 1)]);
  await uploads.dispatch([save], queue);
  assert.deepEqual([sent.length, queued.length], [0, 0]);
  assert.equal(reports[0].code, "not_ready");
});

test("a second trigger while uploading is refused, and the first upload goes on", async () => {
  const { uploads, sent, queued, queue, reports } = setup();
  uploads.select("photos", [file("a", 1)]);
  uploads.select("notes", [file("n", 1)]);
  const first = uploads.dispatch([save], queue);
  await uploads.dispatch([save], queue);
  // A trigger naming a free zone and the busy one starts nothing either.
  const both = { handler: "docs.both", args: { notes: { $upload_files: "notes" }, files: { $upload_files: "photos" } } };
  await uploads.dispatch([both], queue);
  assert.deepEqual(
    reports.map((r) => r.code),
    ["busy", "busy"],
  );
  assert.equal(sent.length, 1, "nothing else was sent");
  assert.ok(!sent[0].aborted, "the first upload was not touched");
  sent[0].resolve("x");
  await first;
  assert.deepEqual(queued, [{ handler: "docs.save", args: { files: [{ $upload: "x" }], note: "hi" } }]);
});

test("a failure stops only the transfers of its own trigger", async () => {
  const { uploads, sent, queued, queue, reports } = setup();
  uploads.select("photos", [file("a", 1)]);
  uploads.select("notes", [file("n", 1)]);
  uploads.select("logs", [file("l", 1)]);
  const first = uploads.dispatch([save], queue);
  const other = { handler: "docs.other", args: { notes: { $upload_files: "notes" }, logs: { $upload_files: "logs" } } };
  const second = uploads.dispatch([other], queue);
  assert.deepEqual(
    sent.map((t) => t.file.name),
    ["a", "n", "l"],
  );
  sent[2].reject("upload_too_large", "too large");
  await second;
  assert.ok(sent[1].aborted, "the same trigger's other zone is stopped");
  assert.ok(!sent[0].aborted, "another trigger's upload goes on");
  assert.deepEqual(reports, [{ code: "upload_too_large", message: "too large" }]);
  sent[0].resolve("x");
  await first;
  assert.deepEqual(
    queued.map((e) => e.handler),
    ["docs.save"],
  );
});

test(`at most ${MAX_PARALLEL_UPLOADS} files are sent at once; the others wait their turn`, async () => {
  const { uploads, sent, queued, queue } = setup();
  const six = ["1", "2", "3", "4", "5", "6"].map((n) => file(n, 10));
  uploads.select("photos", six);
  const done = uploads.dispatch([save], queue);
  assert.equal(sent.length, MAX_PARALLEL_UPLOADS);
  sent[1].resolve("id-2");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(sent.length, MAX_PARALLEL_UPLOADS + 1, "one ended: the next starts");
  assert.equal(sent[4].file.name, "5");
  for (const [i, t] of sent.entries()) if (i !== 1) t.resolve(`id-${t.file.name}`);
  await new Promise((r) => setTimeout(r, 0));
  sent[5].resolve("id-6");
  await done;
  assert.deepEqual(
    queued[0].args.files.map((r) => r.$upload),
    ["id-1", "id-2", "id-3", "id-4", "id-5", "id-6"],
  );

  // A cancel drops the files still waiting: they are never sent.
  uploads.select("photos", six);
  const cancelled = uploads.dispatch([save], queue);
  assert.equal(sent.length, 6 + MAX_PARALLEL_UPLOADS);
  uploads.cancel("photos");
  await cancelled;
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(sent.length, 6 + MAX_PARALLEL_UPLOADS, "the waiting files were dropped");
  assert.equal(uploads.active, 0);
  assert.equal(queued.length, 1);
});

/** An XMLHttpRequest that records what it was given and answers as the test says. */
function fakeXhr(answer) {
  const made = [];
  class FakeXhr {
    constructor() {
      this.headers = {};
      this.upload = {};
      made.push(this);
    }
    open(method, url) {
      Object.assign(this, { method, url });
    }
    setRequestHeader(k, v) {
      this.headers[k] = v;
    }
    send(body) {
      this.body = body;
      if (answer === "abort") return;
      this.upload.onprogress?.({ loaded: 3 });
      Object.assign(this, answer);
      queueMicrotask(() => (answer.network ? this.onerror() : this.onload()));
    }
    abort() {
      this.onabort();
    }
  }
  return { made, FakeXhr };
}

test("a file is posted with its token and percent-encoded name", async () => {
  const { made, FakeXhr } = fakeXhr({ status: 200, responseText: '{"id":"abc","name":"été.txt","size":3,"content_type":""}' });
  const progress = [];
  const t = xhrSender({ XHR: FakeXhr })(file("été 1/2.txt", 3), "TOKEN", (n) => progress.push(n));
  assert.deepEqual(await t.promise, { id: "abc", name: "été.txt", size: 3, content_type: "" });
  assert.equal(made[0].method, "POST");
  assert.equal(made[0].url, "/_upload");
  assert.deepEqual(made[0].headers, { "X-Refract-Token": "TOKEN", "X-Refract-File-Name": "%C3%A9t%C3%A9%201%2F2.txt" });
  assert.deepEqual(progress, [3]);
});

test("the server's refusal, a network failure and an abort reject with their codes", async () => {
  const refused = fakeXhr({ status: 413, responseText: '{"code":"upload_too_large","message":"over 1 KB"}' });
  await assert.rejects(xhrSender({ XHR: refused.FakeXhr })(file("a", 1), "T", () => {}).promise, { code: "upload_too_large", message: "over 1 KB" });
  const proxy = fakeXhr({ status: 502, responseText: "<html>" });
  await assert.rejects(xhrSender({ XHR: proxy.FakeXhr })(file("a", 1), "T", () => {}).promise, { code: "unavailable" });
  const down = fakeXhr({ network: true });
  await assert.rejects(xhrSender({ XHR: down.FakeXhr })(file("a", 1), "T", () => {}).promise, { code: "unavailable" });
  const aborted = fakeXhr("abort");
  const t = xhrSender({ XHR: aborted.FakeXhr })(file("a", 1), "T", () => {});
  t.abort();
  await assert.rejects(t.promise, { code: "cancelled" });
});
