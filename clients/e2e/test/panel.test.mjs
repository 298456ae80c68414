// The "Go live" panel in headless Chromium (CHROMIUM_PATH, by default Debian's /usr/bin/chromium, driven by
// playwright-core), on the example page served from its own origin, against the real `ivs-ingest dev`: CORS,
// supabase-js, the client and the panel all for real. Keys and tokens are compared, never printed.
//
// Each test starts the dev server it needs (a fresh data directory, so fresh keys and fresh limits) and stops it
// after, so that any one of them passes alone (--test-name-pattern) and in any order.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { FunctionsClient } from "@supabase/functions-js";
import { chromium } from "playwright-core";

import { getIngestDetails } from "@ivs-ingest/client";

import { closedPort, startDevServer } from "../../test-support/dev-server.mjs";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const EXAMPLE_DIR = here("../dist/example");
/** Where the screenshot of the panel with the key masked goes (gitignored). */
const ARTIFACTS = here("../../artifacts");
const SCREENSHOT = path.join(ARTIFACTS, "ingest-panel.png");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const UNKNOWN_SHOW = "00000000-0000-4000-8000-000000000000";
// Without the background-networking flags Chromium's own connections are refused on a closed network.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A RegExp that matches text and nothing longer. */
const exactly = (text) => new RegExp(`^${text.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&")}$`);

/** Serves the built example page; returns its origin. */
async function serveExample() {
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".map": "application/json" };
  const server = createServer(async (req, res) => {
    const name = new URL(req.url ?? "/", "http://x").pathname.replace(/^\/$/, "/index.html");
    const file = path.join(EXAMPLE_DIR, path.normalize(name));
    if (!file.startsWith(EXAMPLE_DIR + path.sep)) return void res.writeHead(404).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { "Content-Type": types[path.extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

/** A server that reads each request and never answers: a stalled proxy in front of the service. */
async function serveNothing() {
  const server = createServer((req) => req.resume());
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return { url: `http://127.0.0.1:${server.address().port}`, close };
}

describe("IngestDetailsPanel in Chromium against ivs-ingest dev", () => {
  let example, context, userDataDir;

  before(async () => {
    await stat(path.join(EXAMPLE_DIR, "main.js")); // built by `npm run build`
    example = await serveExample();
    userDataDir = await mkdtemp(path.join(tmpdir(), "ivs-ingest-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 900, height: 1100 },
    });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: example.origin });
  });

  after(async () => {
    await context?.close();
    await new Promise((resolve) => (example ? example.server.close(resolve) : resolve()));
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  /**
   * A dev server of this test's own, stopped when the test ends. By default it allows only the example page's
   * origin (CORS_ALLOWED_ORIGINS); env adds to or overrides that.
   */
  async function devServerFor(t, env = {}) {
    const dev = await startDevServer({ env: { CORS_ALLOWED_ORIGINS: example.origin, ...env } });
    t.after(() => dev.stop());
    return dev;
  }

  /**
   * A page of the example, closed when the test ends, signed in with accessToken, for showId, calling the
   * service at supabaseUrl (with the panel's timeoutMs when given).
   */
  async function openPage(t, config) {
    const page = await context.newPage();
    t.after(() => page.close());
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.addInitScript((c) => {
      window.ivsIngestExample = c;
    }, config);
    await page.goto(example.origin + "/");
    await page.getByRole("heading", { name: "Go live: Spring collection show" }).waitFor();
    return { page, errors };
  }

  /** A page signed in as dev's demo user of role, for showId, calling dev. */
  function openAs(t, dev, role, showId) {
    return openPage(t, { supabaseUrl: dev.baseUrl, accessToken: dev.user(role).token, showId });
  }

  /** The show's current key, as dev hands it out (through the client, over HTTP, from Node: no CORS). */
  async function serverKey(dev, showId) {
    const functions = new FunctionsClient(dev.functionsUrl, {
      headers: { Authorization: `Bearer ${dev.user("approved-seller").token}` },
    });
    const r = await getIngestDetails(functions, showId);
    assert.ok(r.error === null, `the service refused: ${r.error?.message}`);
    return r.data.streamKey;
  }

  /** Clicks "Get stream details" and returns the alert's text once it shows, and its data-kind. */
  async function failedGet(page) {
    await page.getByRole("button", { name: "Get stream details" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    return { text: await alert.innerText(), kind: await alert.getAttribute("data-kind") };
  }

  test("approved seller: masked key, revealed, copied; reset asks first, cuts, and shows the new key", async (t) => {
    const dev = await devServerFor(t);
    const showId = dev.show("approved-seller", true).id;
    const { page, errors } = await openAs(t, dev, "approved-seller", showId);

    // Keyboard only: focus the button and press Enter.
    await page.getByRole("button", { name: "Get stream details" }).focus();
    await page.keyboard.press("Enter");

    const serverUrl = page.getByLabel("Server URL", { exact: true });
    await serverUrl.waitFor();
    assert.match(await serverUrl.inputValue(), /^rtmps:\/\/[0-9a-z]+\.global-contribute\.live-video\.net:443\/app\/$/);
    assert.ok(await serverUrl.evaluate((el) => el === document.activeElement), "focus did not move to the server URL");

    const key = page.getByLabel("Stream key", { exact: true });
    const srt = page.getByLabel("SRT URL", { exact: true });
    assert.equal(await key.getAttribute("type"), "password", "the stream key is not masked");
    assert.equal(await srt.getAttribute("type"), "password", "the SRT URL (which holds the key) is not masked");
    const shownKey = await key.inputValue();
    assert.ok(shownKey === (await serverKey(dev, showId)), "the panel's key is not the one the service hands out");
    assert.ok(!(await page.locator("body").innerText()).includes(shownKey), "the key is readable on the page");
    assert.equal(await page.locator(".ivs-ingest-status").innerText(), "Stream details ready.");
    assert.ok((await page.locator("ol.ivs-ingest-steps li").count()) === 5, "no OBS steps");

    await mkdir(ARTIFACTS, { recursive: true });
    await page.locator(".ivs-ingest-panel").screenshot({ path: SCREENSHOT });
    assert.ok((await stat(SCREENSHOT)).size > 10_000, "the screenshot is empty");

    // Reveal.
    const reveal = page.getByRole("button", { name: "Show stream key" });
    await reveal.click();
    assert.equal(await key.getAttribute("type"), "text", "the key is still masked after Show");
    assert.equal(await page.getByRole("button", { name: "Hide stream key" }).getAttribute("aria-pressed"), "true");
    assert.equal(await srt.getAttribute("type"), "password", "revealing the key revealed the SRT URL too");

    // Copy: the clipboard holds the key.
    await page.getByRole("button", { name: "Copy stream key" }).click();
    await page.getByRole("status").filter({ hasText: "Stream key copied." }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.ok(copied === shownKey, "the clipboard does not hold the stream key");
    await page.getByRole("button", { name: "Copy server URL" }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await serverUrl.inputValue());

    // Hide again (and keep the key out of the screenshots that follow).
    await page.getByRole("button", { name: "Hide stream key" }).click();
    assert.equal(await key.getAttribute("type"), "password", "Hide did not mask the key");
    assert.equal(await reveal.getAttribute("aria-pressed"), "false");

    // Reset, then Escape: nothing changes and the focus returns.
    const resetButton = page.getByRole("button", { name: "Reset stream key" });
    await resetButton.click();
    const dialog = page.getByRole("dialog", { name: "Reset the stream key?" });
    await dialog.waitFor();
    assert.match(await dialog.innerText(), /If you are live now, your stream will be cut immediately/);
    await page.screenshot({ path: path.join(ARTIFACTS, "ingest-panel-reset-dialog.png") });
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Cancel", "Cancel is not focused");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    assert.ok(await resetButton.evaluate((el) => el === document.activeElement), "focus did not return to Reset");
    assert.ok((await key.inputValue()) === shownKey, "Escape changed the key");
    assert.ok((await serverKey(dev, showId)) === shownKey, "Escape rotated the key on the server");

    // Reset for real, by keyboard: Enter opens, Tab to the confirm button, Enter.
    await page.keyboard.press("Enter");
    await dialog.waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Reset stream key");
    await page.keyboard.press("Enter");
    await page.getByRole("status").filter({ hasText: "Stream key reset." }).waitFor();
    await dialog.waitFor({ state: "hidden" });
    const newKey = await key.inputValue();
    assert.ok(/^sk_/.test(newKey) && newKey !== shownKey, "the panel does not show a new key");
    assert.equal(await key.getAttribute("type"), "password", "the new key is not masked");
    assert.ok((await serverKey(dev, showId)) === newKey, "the panel's new key is not the service's");
    assert.ok(await resetButton.evaluate((el) => el === document.activeElement), "focus did not return to Reset");
    assert.deepEqual(errors, []);
  });

  test("pending seller: the server's reason, \"Seller not approved\", not \"non-2xx status code\"", async (t) => {
    const dev = await devServerFor(t);
    const { page, errors } = await openAs(t, dev, "pending-seller", dev.show("pending-seller", true).id);
    const { text, kind } = await failedGet(page);
    assert.match(text, /Could not get your stream details: Seller not approved/);
    assert.doesNotMatch(text, /non-2xx/);
    assert.equal(kind, "http");
    assert.equal(await page.getByLabel("Stream key", { exact: true }).count(), 0, "a key field on a refusal");
    await page.getByRole("button", { name: "Try again" }).waitFor();
    await mkdir(ARTIFACTS, { recursive: true });
    await page.locator(".ivs-ingest-panel").screenshot({ path: path.join(ARTIFACTS, "ingest-panel-refused.png") });
    assert.deepEqual(errors, []);
  });

  test("MFA required: the server's reason and how to get past it", async (t) => {
    const dev = await devServerFor(t, { REQUIRE_MFA: "true" });
    const { page, errors } = await openAs(t, dev, "approved-seller", dev.show("approved-seller", true).id);
    const { text, kind } = await failedGet(page);
    assert.match(text, /Could not get your stream details: Multi-factor authentication required\. Turn on two-factor sign-in/);
    assert.match(text, /ask an admin to revoke it/);
    assert.equal(kind, "http");
    assert.equal(await page.getByLabel("Stream key", { exact: true }).count(), 0, "a key field on a refusal");
    assert.deepEqual(errors, []);
  });

  test("unreachable service: says so, and offers to try again", async (t) => {
    const port = await closedPort();
    const { page, errors } = await openPage(t, {
      supabaseUrl: `http://127.0.0.1:${port}`,
      accessToken: "no-token-needed",
      showId: UNKNOWN_SHOW,
    });
    const { text, kind } = await failedGet(page);
    assert.match(text, /the streaming service could not be reached/);
    assert.equal(kind, "network");
    await page.getByRole("button", { name: "Try again" }).waitFor();
    assert.deepEqual(errors, []);
  });

  test("an origin missing from CORS_ALLOWED_ORIGINS: \"could not be reached\", a network error", async (t) => {
    // The service is up and allows another origin only; the page's origin is refused by the browser.
    const dev = await devServerFor(t, { CORS_ALLOWED_ORIGINS: "https://shop.example" });
    const showId = dev.show("approved-seller", true).id;
    assert.match(await serverKey(dev, showId), /^sk_/, "the service does not answer outside a browser");
    const { page, errors } = await openAs(t, dev, "approved-seller", showId);
    const consoleErrors = [];
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    const { text, kind } = await failedGet(page);
    assert.match(text, /the streaming service could not be reached/);
    assert.equal(kind, "network");
    // Chromium says why on the console (the message names the URL and the origin, no token).
    assert.ok(
      consoleErrors.some((m) => /blocked by CORS policy/.test(m) && m.includes(example.origin)),
      `no CORS refusal on the console: ${JSON.stringify(consoleErrors)}`,
    );
    await page.getByRole("button", { name: "Try again" }).waitFor();
    assert.deepEqual(errors, []);
  });

  test("a service that never answers: \"did not answer in time\" after the panel's timeoutMs", async (t) => {
    const stalled = await serveNothing();
    t.after(stalled.close);
    const { page, errors } = await openPage(t, {
      supabaseUrl: stalled.url,
      accessToken: "no-token-needed",
      showId: UNKNOWN_SHOW,
      timeoutMs: 1000,
    });
    const started = Date.now();
    const { text, kind } = await failedGet(page);
    const took = Date.now() - started;
    assert.match(text, /Could not get your stream details: the streaming service did not answer in time/);
    assert.equal(kind, "timeout");
    assert.ok(took >= 900 && took < 10_000, `the panel gave up after ${took} ms`);
    await page.getByRole("button", { name: "Try again" }).waitFor();
    assert.deepEqual(errors, []);
  });

  /**
   * The live indicator of page; says(text, status) waits until it says text, with data-status status;
   * notLive() waits until it says the show is not live ("Not live yet" until dev's first reconciliation, which
   * runs at its start, finds the channel offline; "Offline" after) and returns which.
   */
  function liveIndicator(page) {
    const live = page.locator(".ivs-ingest-live");
    const says = async (text, status) => {
      await live.filter({ hasText: exactly(text) }).waitFor();
      assert.equal(await live.getAttribute("data-status"), status, `the indicator says "${text}" with the wrong data-status`);
    };
    const notLive = async () => {
      await live.filter({ hasText: /^(Not live yet|Offline)$/ }).waitFor();
      const text = await live.innerText();
      assert.equal(await live.getAttribute("data-status"), text === "Offline" ? "offline" : "unknown");
      return text;
    };
    return { live, says, notLive };
  }

  /** Makes the page hidden or visible again, as switching tabs does. */
  async function setVisibility(page, state) {
    await page.evaluate((s) => {
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => s });
      document.dispatchEvent(new Event("visibilitychange"));
    }, state);
  }

  /** Counts the page's reads of the stream status from now on. */
  function countStatusReads(page) {
    let n = 0;
    page.on("request", (r) => {
      if (r.method() === "GET" && r.url().includes("/functions/v1/ivs-stream-status")) n++;
    });
    return { get: () => n, reset: () => void (n = 0) };
  }

  test("live indicator follows a simulated broadcast: not live (Offline), Live, starving, Live, Offline", async (t) => {
    const dev = await devServerFor(t);
    const showId = dev.show("approved-seller", true).id;
    // A short interval: the test waits for the panel's next read, not 10 s per step.
    const { page, errors } = await openPage(t, {
      supabaseUrl: dev.baseUrl,
      accessToken: dev.user("approved-seller").token,
      showId,
      statusIntervalMs: 200,
    });
    const { live, says, notLive } = liveIndicator(page);
    assert.equal(await live.getAttribute("role"), "status");
    assert.equal(await live.getAttribute("aria-live"), "polite");

    await notLive();
    await dev.simulate(showId, "start");
    await says("Live", "live");
    await dev.simulate(showId, "starve");
    await says("Live, but IVS receives too little video: check your upload", "starving");
    await mkdir(ARTIFACTS, { recursive: true });
    await page.locator(".ivs-ingest-panel").screenshot({ path: path.join(ARTIFACTS, "ingest-panel-starving.png") });
    await dev.simulate(showId, "recover");
    await says("Live", "live");
    await page.locator(".ivs-ingest-panel").screenshot({ path: path.join(ARTIFACTS, "ingest-panel-live.png") });
    await dev.simulate(showId, "end");
    await says("Offline", "offline");
    assert.equal(await live.getAttribute("data-stale"), "false");

    // The indicator stays beside the details: getting them changes nothing of it.
    await page.getByRole("button", { name: "Get stream details" }).click();
    await page.getByLabel("Stream key", { exact: true }).waitFor();
    await says("Offline", "offline");
    assert.deepEqual(errors, []);
  });

  test("live indicator: no reads while the page is hidden, one at once when it is visible again", async (t) => {
    const dev = await devServerFor(t);
    const showId = dev.show("approved-seller", true).id;
    const { page, errors } = await openPage(t, {
      supabaseUrl: dev.baseUrl,
      accessToken: dev.user("approved-seller").token,
      showId,
      statusIntervalMs: 100,
    });
    const { live, says, notLive } = liveIndicator(page);
    const reads = countStatusReads(page);
    const before = await notLive();

    await setVisibility(page, "hidden");
    reads.reset();
    await dev.simulate(showId, "start");
    // Ten intervals at least: a panel that kept polling would have read, and shown "Live", by now.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(reads.get(), 0, "the panel read the status while the page was hidden");
    assert.equal(await live.innerText(), before, "the indicator changed while the page was hidden");

    await setVisibility(page, "visible");
    await says("Live", "live");
    assert.ok(reads.get() >= 1, "no read once visible");
    assert.deepEqual(errors, []);
  });

  test("live indicator: after a failed read it waits statusErrorIntervalMs (60 s), not the interval", async (t) => {
    const port = await closedPort();
    const { page, errors } = await openPage(t, {
      supabaseUrl: `http://127.0.0.1:${port}`,
      accessToken: "no-token-needed",
      showId: UNKNOWN_SHOW,
      statusIntervalMs: 100,
    });
    const reads = countStatusReads(page);
    const live = page.locator('.ivs-ingest-live[data-stale="true"]');
    await live.waitFor({ state: "attached" });
    reads.reset();
    // Ten intervals: a panel that did not back off would have read again ten times.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(reads.get(), 0, "the panel read again within the backoff");
    assert.equal(await live.innerText(), "", "the indicator claims a status it never read");
    // Becoming visible again reads at once, backoff or not.
    await setVisibility(page, "hidden");
    await setVisibility(page, "visible");
    for (let i = 0; i < 50 && reads.get() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(reads.get(), 1, "no read when the page became visible again");
    assert.deepEqual(errors, []);
  });

  test("a reset over the creation limit: \"Too many requests\", when to try again, and the key kept", async (t) => {
    // One key creation per seller and hour: the first reset (the demo channel's key was adopted, not created)
    // is the one allowed, the second is over the limit.
    const dev = await devServerFor(t, { RATE_LIMIT_KEY_CREATES_PER_HOUR: "1" });
    const showId = dev.show("approved-seller", true).id;
    const { page, errors } = await openAs(t, dev, "approved-seller", showId);
    await page.getByRole("button", { name: "Get stream details" }).click();
    const key = page.getByLabel("Stream key", { exact: true });
    await key.waitFor();
    const first = await key.inputValue();
    const reset = async () => {
      await page.getByRole("button", { name: "Reset stream key" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Reset stream key" }).click();
    };
    await reset();
    await page.getByRole("status").filter({ hasText: "Stream key reset." }).waitFor();
    const before = await key.inputValue();
    assert.ok(/^sk_/.test(before) && before !== first, "the allowed reset did not show a new key");

    await reset();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /The stream key was not reset: Too many requests/);
    assert.equal(await alert.getAttribute("data-kind"), "http");
    // retryAfter from the answer: the hour since the allowed reset, less the seconds since.
    assert.match(text, /Try again in (5\d|60) minutes\./);
    assert.ok((await key.inputValue()) === before, "a refused reset changed the key in the panel");
    assert.ok((await serverKey(dev, showId)) === before, "a refused reset changed the key on the server");
    assert.deepEqual(errors, []);
  });
});
