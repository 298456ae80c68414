// The "Go live" panel in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), on the
// example page served from its own origin, against the real `ivs-ingest dev`: CORS, supabase-js, the client
// and the panel all for real. Keys and tokens are compared, never printed.
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
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
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

describe("IngestDetailsPanel in Chromium against ivs-ingest dev", () => {
  let example, dev, context, userDataDir;

  before(async () => {
    await stat(path.join(EXAMPLE_DIR, "main.js")); // built by `npm run build`
    example = await serveExample();
    // One key creation per seller and hour: the first test's reset is the one allowed, the last test's is over.
    dev = await startDevServer({
      env: { CORS_ALLOWED_ORIGINS: example.origin, RATE_LIMIT_KEY_CREATES_PER_HOUR: "1" },
    });
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
    await dev?.stop();
    await new Promise((resolve) => (example ? example.server.close(resolve) : resolve()));
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  /** A page of the example, signed in as the demo user of role, for showId (on supabaseUrl, default dev's). */
  async function openAs(role, showId, supabaseUrl = dev.baseUrl) {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.addInitScript((config) => {
      window.ivsIngestExample = config;
    }, { supabaseUrl, accessToken: dev.user(role).token, showId });
    await page.goto(example.origin + "/");
    await page.getByRole("heading", { name: "Go live: Spring collection show" }).waitFor();
    return { page, errors };
  }

  /** The show's current key, as the service hands it out (through the client, over HTTP). */
  async function serverKey(showId) {
    const functions = new FunctionsClient(dev.functionsUrl, {
      headers: { Authorization: `Bearer ${dev.user("approved-seller").token}` },
    });
    const r = await getIngestDetails(functions, showId);
    assert.ok(r.error === null, `the service refused: ${r.error?.message}`);
    return r.data.streamKey;
  }

  test("approved seller: masked key, revealed, copied; reset asks first, cuts, and shows the new key", async () => {
    const showId = dev.show("approved-seller", true).id;
    const { page, errors } = await openAs("approved-seller", showId);

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
    assert.ok(shownKey === (await serverKey(showId)), "the panel's key is not the one the service hands out");
    assert.ok(!(await page.locator("body").innerText()).includes(shownKey), "the key is readable on the page");
    assert.equal(await page.getByRole("status").innerText(), "Stream details ready.");
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
    assert.ok((await serverKey(showId)) === shownKey, "Escape rotated the key on the server");

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
    assert.ok((await serverKey(showId)) === newKey, "the panel's new key is not the service's");
    assert.ok(await resetButton.evaluate((el) => el === document.activeElement), "focus did not return to Reset");
    assert.deepEqual(errors, []);
  });

  test("pending seller: the server's reason, \"Seller not approved\", not \"non-2xx status code\"", async () => {
    const { page, errors } = await openAs("pending-seller", dev.show("pending-seller", true).id);
    await page.getByRole("button", { name: "Get stream details" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /Could not get your stream details: Seller not approved/);
    assert.doesNotMatch(text, /non-2xx/);
    assert.equal(await page.getByLabel("Stream key", { exact: true }).count(), 0, "a key field on a refusal");
    await page.getByRole("button", { name: "Try again" }).waitFor();
    await page.locator(".ivs-ingest-panel").screenshot({ path: path.join(ARTIFACTS, "ingest-panel-refused.png") });
    assert.deepEqual(errors, []);
  });

  test("unreachable service: says so, and offers to try again", async () => {
    const port = await closedPort();
    const { page } = await openAs("approved-seller", dev.show("approved-seller", true).id, `http://127.0.0.1:${port}`);
    await page.getByRole("button", { name: "Get stream details" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.match(await alert.innerText(), /the streaming service could not be reached/);
    await page.getByRole("button", { name: "Try again" }).waitFor();
  });

  test("a reset over the creation limit: \"Too many requests\", when to try again, and the key kept", async () => {
    const showId = dev.show("approved-seller", true).id;
    const { page, errors } = await openAs("approved-seller", showId);
    await page.getByRole("button", { name: "Get stream details" }).click();
    const key = page.getByLabel("Stream key", { exact: true });
    await key.waitFor();
    const before = await key.inputValue();
    await page.getByRole("button", { name: "Reset stream key" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Reset stream key" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /The stream key was not reset: Too many requests/);
    // retryAfter from the answer: the hour since the first test's reset, less the seconds since.
    assert.match(text, /Try again in (5\d|60) minutes\./);
    assert.ok((await key.inputValue()) === before, "a refused reset changed the key in the panel");
    assert.ok((await serverKey(showId)) === before, "a refused reset changed the key on the server");
    assert.deepEqual(errors, []);
  });
});
