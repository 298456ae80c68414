// The client against the real `ivs-ingest dev` server (no mocked fetch): every call goes over HTTP through
// supabase-js or functions-js to the real handlers. Stream keys and tokens are asserted on, never printed:
// assertions on them pass a message of their own, so a failure shows the message, not the value.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";

import { FunctionsClient } from "@supabase/functions-js";
import { createClient } from "@supabase/supabase-js";

import {
  DEFAULT_TIMEOUT_MS,
  IngestError,
  getAuditLog,
  getIngestDetails,
  getStreamStatus,
  parseRetryAfter,
  revokeStreamKey,
  rotateStreamKey,
} from "@ivs-ingest/client";

import { closedPort, startDevServer } from "../../test-support/dev-server.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_SHOW = "00000000-0000-4000-8000-000000000000";

/** A SupabaseClient of the project at baseUrl, signed in with token (supabase-js's `accessToken` option). */
function supabaseAs(baseUrl, token) {
  return createClient(baseUrl, "dev-anon-key", { accessToken: async () => token });
}

/** A FunctionsClient pointed at a self-hosted base URL, as clients/README.md shows. */
function functionsAs(functionsUrl, token) {
  return new FunctionsClient(functionsUrl, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
}

/** Asserts r succeeded, printing only the error (never data, which holds keys). */
function ok(r, what) {
  assert.equal(r.error, null, `${what}: unexpected error ${r.error && `${r.error.kind} ${r.error.status} ${r.error.message}`}`);
  assert.ok(r.data !== null, `${what}: no data`);
  return r.data;
}

/** Asserts r is the server's refusal with status and message. */
function refused(r, status, message, what) {
  assert.ok(r.data === null, `${what}: data on a refusal`);
  assert.ok(r.error instanceof IngestError, `${what}: error is not an IngestError`);
  assert.equal(r.error.kind, "http", what);
  assert.equal(r.error.status, status, what);
  assert.equal(r.error.message, message, what);
  assert.doesNotMatch(r.error.message, /non-2xx/, what);
  assert.match(r.error.requestId ?? "", UUID, `${what}: X-Request-Id`);
  return r.error;
}

/** Asserts the details have the service's shape; the key is checked, not shown. */
function assertDetails(d, what) {
  assert.match(d.serverUrl, /^rtmps:\/\/[0-9a-z]+\.global-contribute\.live-video\.net:443\/app\/$/, what);
  assert.equal(d.ingestEndpoint, d.serverUrl, what);
  assert.equal(d.streamKeyHint, "Use this as your Stream Key in OBS or your streaming software", what);
  assert.ok(/^sk_us-east-1_[A-Za-z0-9_]{20,}$/.test(d.streamKey), `${what}: the stream key does not have the sk_<region>_ form`);
  assert.ok(typeof d.srtUrl === "string", `${what}: no srtUrl (the emulator's channels have SRT)`);
  assert.ok(
    /^srt:\/\/[0-9a-z]+\.srt\.live-video\.net:9000\?streamid=[^&]+&passphrase=[A-Za-z0-9]+$/.test(d.srtUrl) &&
      d.srtUrl.includes(`streamid=${d.streamKey}&`),
    `${what}: srtUrl is not srt://<host>:9000?streamid=<the key>&passphrase=<...>`,
  );
}

describe("against ivs-ingest dev", () => {
  let dev;
  let approved, pending, admin, plainUser;
  let liveShow, bareShow, pendingShow;

  before(async () => {
    dev = await startDevServer({
      env: { RATE_LIMIT_REQUESTS_PER_MINUTE: "1000", RATE_LIMIT_KEY_CREATES_PER_HOUR: "100" },
    });
    approved = dev.user("approved-seller");
    pending = dev.user("pending-seller");
    admin = dev.user("admin");
    plainUser = dev.user("user");
    liveShow = dev.show("approved-seller", true).id;
    bareShow = dev.show("approved-seller", false).id;
    pendingShow = dev.show("pending-seller", true).id;
  });
  after(() => dev?.stop());

  describe("getIngestDetails", () => {
    let firstKey;

    test("gives the approved seller the server URL, the key and the SRT URL, through a SupabaseClient", async () => {
      const d = ok(await getIngestDetails(supabaseAs(dev.baseUrl, approved.token), liveShow), "get");
      assertDetails(d, "get");
      firstKey = d.streamKey;
    });

    test("gives the same key through a FunctionsClient pointed at the self-hosted base URL", async () => {
      const d = ok(await getIngestDetails(functionsAs(dev.functionsUrl, approved.token), liveShow), "get again");
      assertDetails(d, "get again");
      assert.ok(d.streamKey === firstKey, "the second answer's key differs from the first");
    });

    test("works with the README's self-hosted client, whose customFetch takes the session's token", async () => {
      // clients/README.md's snippet, with supabase.auth reduced to the getSession it uses.
      const supabase = { auth: { getSession: async () => ({ data: { session: { access_token: approved.token } } }) } };
      const ingest = new FunctionsClient(dev.functionsUrl, {
        customFetch: async (input, init) => {
          const { data } = await supabase.auth.getSession();
          const headers = new Headers(init?.headers);
          if (data.session) headers.set("Authorization", `Bearer ${data.session.access_token}`);
          return fetch(input, { ...init, headers });
        },
      });
      const d = ok(await getIngestDetails(ingest, liveShow), "get");
      assert.ok(d.streamKey === firstKey, "the key differs");
    });

    test("accepts supabase.functions itself as the client", async () => {
      const d = ok(await getIngestDetails(supabaseAs(dev.baseUrl, approved.token).functions, liveShow), "get");
      assert.ok(d.streamKey === firstKey, "the key differs");
    });

    test("lets an admin act as the pending seller (X-Impersonate-Seller-Id)", async () => {
      const d = ok(
        await getIngestDetails(supabaseAs(dev.baseUrl, admin.token), pendingShow, {
          impersonateSellerId: pending.sellerId,
        }),
        "impersonated get",
      );
      assertDetails(d, "impersonated get");
      assert.ok(d.streamKey !== firstKey, "the pending seller's show has the approved seller's key");
    });

    // Each refusal, with the server's own message, in the order of the error table (docs/api.md).
    const refusals = [
      {
        name: "no Authorization header",
        run: () => getIngestDetails(functionsAs(dev.functionsUrl, null), liveShow),
        status: 401,
        message: "Missing authorization header",
      },
      {
        name: "a token that is not one",
        run: () => getIngestDetails(functionsAs(dev.functionsUrl, "not-a-jwt"), liveShow),
        status: 401,
        message: "Invalid or expired token",
      },
      {
        name: "signed out: supabase-js sends the anon key as the bearer",
        run: () =>
          getIngestDetails(
            createClient(dev.baseUrl, "dev-anon-key", { auth: { persistSession: false, autoRefreshToken: false } }),
            liveShow,
          ),
        status: 401,
        message: "Invalid or expired token",
      },
      {
        name: "an empty showId",
        run: () => getIngestDetails(supabaseAs(dev.baseUrl, approved.token), ""),
        status: 400,
        message: "showId is required",
      },
      {
        name: "a showId that is not a UUID",
        run: () => getIngestDetails(supabaseAs(dev.baseUrl, approved.token), "show-1"),
        status: 400,
        message: "showId must be a UUID",
      },
      {
        name: "an impersonation header that is not a UUID",
        run: () => getIngestDetails(supabaseAs(dev.baseUrl, admin.token), pendingShow, { impersonateSellerId: "nope" }),
        status: 400,
        message: "X-Impersonate-Seller-Id must be a UUID",
      },
      {
        name: "a seller who impersonates",
        run: () =>
          getIngestDetails(supabaseAs(dev.baseUrl, approved.token), pendingShow, {
            impersonateSellerId: pending.sellerId,
          }),
        status: 403,
        message: "Only admins can impersonate sellers",
      },
      {
        name: "a user who is not a seller",
        run: () => getIngestDetails(supabaseAs(dev.baseUrl, plainUser.token), liveShow),
        status: 403,
        message: "Seller profile not found",
      },
      {
        name: "the pending seller",
        run: () => getIngestDetails(supabaseAs(dev.baseUrl, pending.token), pendingShow),
        status: 403,
        message: "Seller not approved",
      },
      {
        name: "a show that does not exist",
        run: () => getIngestDetails(supabaseAs(dev.baseUrl, approved.token), UNKNOWN_SHOW),
        status: 404,
        message: "Show not found",
      },
      {
        name: "another seller's show",
        run: () => getIngestDetails(supabaseAs(dev.baseUrl, approved.token), pendingShow),
        status: 403,
        message: "You do not own this show",
      },
      {
        name: "a show without a channel",
        run: () => getIngestDetails(functionsAs(dev.functionsUrl, approved.token), bareShow),
        status: 400,
        message: "Show does not have IVS channel configured",
      },
    ];
    for (const c of refusals) {
      test(`refuses ${c.name}: ${c.status} "${c.message}"`, async () => {
        const err = refused(await c.run(), c.status, c.message, c.name);
        assert.equal(err.retryAfter, null, `${c.name}: retryAfter`);
      });
    }
  });

  describe("rotateStreamKey", () => {
    test("replaces the key, and get-ivs-ingest then hands out the new one", async () => {
      const client = supabaseAs(dev.baseUrl, approved.token);
      const before = ok(await getIngestDetails(client, liveShow), "get before");
      const rotated = ok(await rotateStreamKey(client, liveShow), "rotate");
      assertDetails(rotated, "rotate");
      assert.ok(rotated.streamKey !== before.streamKey, "rotation kept the old key");
      const after = ok(await getIngestDetails(client, liveShow), "get after");
      assert.ok(after.streamKey === rotated.streamKey, "get-ivs-ingest does not answer the rotated key");
    });

    test("refuses the pending seller: 403 \"Seller not approved\"", async () => {
      refused(await rotateStreamKey(supabaseAs(dev.baseUrl, pending.token), pendingShow), 403, "Seller not approved", "rotate");
    });

    test("lets an admin rotate as the owner", async () => {
      const client = supabaseAs(dev.baseUrl, admin.token);
      const opts = { impersonateSellerId: pending.sellerId };
      const before = ok(await getIngestDetails(client, pendingShow, opts), "get before");
      const rotated = ok(await rotateStreamKey(client, pendingShow, opts), "admin rotate");
      assert.ok(rotated.streamKey !== before.streamKey, "rotation kept the old key");
    });
  });

  describe("revokeStreamKey", () => {
    test("revokes with a reason; the next get creates a fresh key", async () => {
      const client = functionsAs(dev.functionsUrl, approved.token);
      const before = ok(await getIngestDetails(client, liveShow), "get before");
      const r = ok(await revokeStreamKey(client, liveShow, { reason: "leaked on a stream overlay" }), "revoke");
      assert.deepEqual(r, { revoked: true });
      const after = ok(await getIngestDetails(client, liveShow), "get after");
      assert.ok(after.streamKey !== before.streamKey, "the revoked key is still handed out");
    });

    test("lets the pending seller revoke their own show's key", async () => {
      const r = ok(await revokeStreamKey(supabaseAs(dev.baseUrl, pending.token), pendingShow), "revoke");
      assert.deepEqual(r, { revoked: true });
    });

    test("refuses a reason over 500 characters with the server's message", async () => {
      refused(
        await revokeStreamKey(supabaseAs(dev.baseUrl, approved.token), liveShow, { reason: "x".repeat(501) }),
        400,
        "reason must be a string of at most 500 characters, without control or format characters",
        "long reason",
      );
    });

    test("refuses another seller's show", async () => {
      refused(await revokeStreamKey(supabaseAs(dev.baseUrl, approved.token), pendingShow), 403, "You do not own this show", "revoke");
    });
  });

  describe("getAuditLog", () => {
    test("gives the seller their show's trail, newest first, limited, with the revocation's reason and no key", async () => {
      const client = supabaseAs(dev.baseUrl, approved.token);
      const current = ok(await getIngestDetails(client, liveShow), "get").streamKey;
      const log = ok(await getAuditLog(client, { showId: liveShow, limit: 500 }), "audit");
      assert.ok(log.entries.length >= 8, `only ${log.entries.length} entries`);
      const [newest] = log.entries;
      assert.equal(newest.action, "get");
      assert.equal(newest.outcome, "allowed");
      assert.equal(newest.httpStatus, 200);
      assert.equal(newest.showId, liveShow);
      assert.equal(newest.actorUserId, approved.userId);
      assert.match(newest.requestId, UUID);
      for (let i = 1; i < log.entries.length; i++) {
        assert.ok(Date.parse(log.entries[i - 1].occurredAt) >= Date.parse(log.entries[i].occurredAt), "not newest first");
        assert.equal(log.entries[i].showId, liveShow);
      }
      const actions = new Set(log.entries.map((e) => e.action));
      for (const a of ["create", "get", "rotate", "revoke"]) assert.ok(actions.has(a), `no ${a} row`);
      const revocation = log.entries.find((e) => e.action === "revoke" && e.outcome === "allowed");
      assert.equal(revocation?.reason, "leaked on a stream overlay");
      assert.ok(log.entries.some((e) => e.outcome === "denied" && e.httpStatus === 400), "no denied row");
      assert.ok(!JSON.stringify(log).includes(current), "the audit log holds a stream key");

      const two = ok(await getAuditLog(client, { showId: liveShow, limit: 2 }), "audit limit 2");
      assert.equal(two.entries.length, 2);
    });

    test("gives an admin every show's trail", async () => {
      const log = ok(await getAuditLog(supabaseAs(dev.baseUrl, admin.token), { limit: 500 }), "admin audit");
      const shows = new Set(log.entries.map((e) => e.showId));
      assert.ok(shows.has(liveShow) && shows.has(pendingShow), "the admin does not see both sellers' shows");
    });

    test("refuses a seller every show's trail, and a limit out of range, with the server's messages", async () => {
      const client = supabaseAs(dev.baseUrl, approved.token);
      refused(await getAuditLog(client), 403, "Only admins can read the audit log of every show", "all shows");
      refused(
        await getAuditLog(client, { showId: liveShow, limit: 0 }),
        400,
        "limit must be a whole number from 1 to 500",
        "limit 0",
      );
      refused(await getAuditLog(client, { showId: "x" }), 400, "showId must be a UUID", "bad showId");
    });
  });

  describe("failures without a server answer", () => {
    test("a closed port is a network error, through either kind of client", async () => {
      const port = await closedPort();
      for (const [name, client] of [
        ["FunctionsClient", functionsAs(`http://127.0.0.1:${port}/functions/v1`, approved.token)],
        ["SupabaseClient", supabaseAs(`http://127.0.0.1:${port}`, approved.token)],
      ]) {
        const r = await getIngestDetails(client, liveShow);
        assert.ok(r.data === null, name);
        assert.ok(r.error instanceof IngestError, name);
        assert.equal(r.error.kind, "network", name);
        assert.equal(r.error.status, null, name);
        assert.equal(r.error.retryAfter, null, name);
        assert.match(r.error.message, /Could not reach the streaming service/, name);
        assert.ok(r.error.cause, `${name}: no cause`);
      }
    });

    test("an aborted signal is its own kind", async () => {
      const controller = new AbortController();
      controller.abort();
      const r = await getIngestDetails(supabaseAs(dev.baseUrl, approved.token), liveShow, { signal: controller.signal });
      assert.equal(r.error?.kind, "aborted");
    });
  });
});

describe("answers that are not the service's", () => {
  // A real HTTP server standing where the functions URL points by mistake, or a proxy failing in front.
  let server, url;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url?.startsWith("/proxy-down/")) {
        res.writeHead(502, { "Content-Type": "text/html" }).end("<h1>502 Bad Gateway</h1>");
      } else {
        res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>Shop</title>");
      }
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  test("a 2xx page is a response error, not data", async () => {
    const r = await getIngestDetails(functionsAs(`${url}/functions/v1`, "t"), UNKNOWN_SHOW);
    assert.ok(r.data === null, "data");
    assert.equal(r.error?.kind, "response");
    assert.match(r.error.message, /not an ivs-ingest answer/);
  });

  test("a non-JSON error page keeps its status", async () => {
    const r = await getIngestDetails(functionsAs(`${url}/proxy-down`, "t"), UNKNOWN_SHOW);
    assert.equal(r.error?.kind, "http");
    assert.equal(r.error.status, 502);
    assert.equal(r.error.message, "The server answered HTTP 502 Bad Gateway");
    assert.equal(r.error.requestId, null);
  });
});

describe("timeouts: a server that accepts the request and never answers", () => {
  // A real HTTP server on loopback standing for a stalled proxy: it reads the request and never answers,
  // or (under /stalled-body/) sends a 502's head and never its body.
  let server, url;
  const T = 300; // timeoutMs of these tests
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      if (req.url?.startsWith("/stalled-body/")) {
        res.writeHead(502, { "Content-Type": "application/json", "X-Request-Id": "stalled" });
        res.write('{"error":');
        res.flushHeaders();
      }
      // and nothing more
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${server.address().port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Runs call, asserting it ends with a timeout error after about T ms; returns the error. */
  async function timesOut(call, what) {
    const started = Date.now();
    const r = await call();
    const took = Date.now() - started;
    assert.ok(r.data === null, `${what}: data`);
    assert.ok(r.error instanceof IngestError, `${what}: not an IngestError`);
    assert.equal(r.error.kind, "timeout", `${what}: ${r.error.kind} ${r.error.message}`);
    assert.equal(r.error.message, "The streaming service did not answer within 0.3 s", what);
    assert.equal(r.error.retryAfter, null, what);
    assert.ok(took >= T - 20 && took < 5000, `${what}: ended after ${took} ms`);
    return r.error;
  }

  // Each test has a timeout of its own, so a client that waits for ever fails instead of hanging the run.
  const bounded = { timeout: 10_000 };

  test("the default timeout is 150 s, longer than the server's own 130 s bound", () => {
    assert.equal(DEFAULT_TIMEOUT_MS, 150_000);
  });

  test("ends every call with kind \"timeout\" after timeoutMs, through either kind of client", bounded, async () => {
    const functions = functionsAs(`${url}/functions/v1`, "t");
    const supabase = supabaseAs(url, "t");
    for (const [what, call] of [
      ["get (FunctionsClient)", () => getIngestDetails(functions, UNKNOWN_SHOW, { timeoutMs: T })],
      ["get (SupabaseClient)", () => getIngestDetails(supabase, UNKNOWN_SHOW, { timeoutMs: T })],
      ["rotate", () => rotateStreamKey(supabase, UNKNOWN_SHOW, { timeoutMs: T })],
      ["revoke", () => revokeStreamKey(supabase, UNKNOWN_SHOW, { reason: "r", timeoutMs: T })],
      ["audit", () => getAuditLog(supabase, { showId: UNKNOWN_SHOW, timeoutMs: T })],
    ]) {
      const err = await timesOut(call, what);
      assert.equal(err.status, null, what);
      assert.equal(err.requestId, null, what);
      assert.ok(err.cause, `${what}: no cause`);
    }
  });

  test("a refusal whose body never comes is a timeout that keeps the status and request id", bounded, async () => {
    const err = await timesOut(
      () => getIngestDetails(functionsAs(`${url}/stalled-body/functions/v1`, "t"), UNKNOWN_SHOW, { timeoutMs: T }),
      "stalled body",
    );
    assert.equal(err.status, 502);
    assert.equal(err.requestId, "stalled");
  });

  test("the caller's signal still aborts first, as kind \"aborted\"", bounded, async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const r = await getIngestDetails(functionsAs(`${url}/functions/v1`, "t"), UNKNOWN_SHOW, {
      signal: controller.signal,
      timeoutMs: 5000,
    });
    assert.equal(r.error?.kind, "aborted");
  });

  test("a caller's signal that never aborts does not stop the timeout", bounded, async () => {
    const controller = new AbortController();
    await timesOut(
      () => getIngestDetails(supabaseAs(url, "t"), UNKNOWN_SHOW, { signal: controller.signal, timeoutMs: T }),
      "with a signal",
    );
  });

  test("without AbortSignal.any (older browsers), the timeout and the caller's signal both still work", bounded, async () => {
    const any = AbortSignal.any;
    delete AbortSignal.any;
    try {
      assert.equal(typeof AbortSignal.any, "undefined");
      const functions = functionsAs(`${url}/functions/v1`, "t");
      await timesOut(
        () => getIngestDetails(functions, UNKNOWN_SHOW, { signal: new AbortController().signal, timeoutMs: T }),
        "fallback timeout",
      );
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const r = await getIngestDetails(functions, UNKNOWN_SHOW, { signal: controller.signal, timeoutMs: 5000 });
      assert.equal(r.error?.kind, "aborted", "fallback abort");
    } finally {
      AbortSignal.any = any;
    }
  });

  test("a client that ignores the signal is given up on all the same", bounded, async () => {
    let received;
    const deaf = { invoke: (_name, options) => ((received = options?.signal), new Promise(() => {})) };
    await timesOut(() => getIngestDetails(deaf, UNKNOWN_SHOW, { timeoutMs: T }), "deaf client");
    assert.ok(received instanceof AbortSignal && received.aborted, "the client was not handed the aborted signal");
  });

  test("without timeoutMs, the client is handed a signal (the default deadline); timeoutMs 0 hands none", async () => {
    let received = "none";
    const spy = { invoke: async (_name, options) => ((received = options?.signal), { data: null, error: new Error("x") }) };
    await getIngestDetails(spy, UNKNOWN_SHOW);
    assert.ok(received instanceof AbortSignal && !received.aborted, "no live signal by default");
    await getIngestDetails(spy, UNKNOWN_SHOW, { timeoutMs: 0 });
    assert.equal(received, undefined, "timeoutMs 0 still set a deadline");
  });
});

describe("limits (a dev server with RATE_LIMIT_REQUESTS_PER_MINUTE=3, RATE_LIMIT_KEY_CREATES_PER_HOUR=1)", () => {
  let dev;
  before(async () => {
    dev = await startDevServer({
      env: { RATE_LIMIT_REQUESTS_PER_MINUTE: "3", RATE_LIMIT_KEY_CREATES_PER_HOUR: "1" },
    });
  });
  after(() => dev?.stop());

  test("the fourth request in a minute is 429 \"Too many requests\" with retryAfter", async () => {
    const client = supabaseAs(dev.baseUrl, dev.user("user").token);
    const show = dev.show("approved-seller", true).id;
    for (let i = 1; i <= 3; i++) {
      refused(await getIngestDetails(client, show), 403, "Seller profile not found", `request ${i}`);
    }
    const err = refused(await getIngestDetails(client, show), 429, "Too many requests", "request 4");
    // A bucket of 3 refilled at one request per 20 s.
    assert.ok(Number.isInteger(err.retryAfter) && err.retryAfter >= 1 && err.retryAfter <= 20, `retryAfter ${err.retryAfter}`);
  });

  test("a rotation over the creation limit is 429 with the wait until a creation is allowed", async () => {
    // The demo channel came with a key, which the first get adopts: the first rotation is the one creation
    // allowed, the second is over the limit.
    const client = supabaseAs(dev.baseUrl, dev.user("approved-seller").token);
    const show = dev.show("approved-seller", true).id;
    const rotated = ok(await rotateStreamKey(client, show), "first rotation");
    const err = refused(await rotateStreamKey(client, show), 429, "Too many requests", "second rotation");
    assert.ok(Number.isInteger(err.retryAfter) && err.retryAfter > 20 && err.retryAfter <= 3600, `retryAfter ${err.retryAfter}`);
    // The refused rotation deleted nothing: the first rotation's key is still the show's.
    const d = ok(await getIngestDetails(client, show), "get after the refused rotation");
    assert.ok(d.streamKey === rotated.streamKey, "the refused rotation changed the key");
  });
});

describe("getStreamStatus (a dev server of its own, on which simulate-stream plays a broadcast)", () => {
  let dev, approved, liveShow;
  before(async () => {
    dev = await startDevServer({ env: { RATE_LIMIT_REQUESTS_PER_MINUTE: "1000" } });
    approved = supabaseAs(dev.baseUrl, dev.user("approved-seller").token);
    liveShow = dev.show("approved-seller", true).id;
  });
  after(() => dev?.stop());

  /** Asserts a status: since is an RFC 3339 UTC time within the last minute exactly when known. */
  function assertStatus(d, status, health, what) {
    assert.equal(d.status, status, what);
    assert.equal(d.health, health, what);
    if (status === "unknown") {
      assert.equal(d.since, null, `${what}: since`);
    } else {
      assert.match(d.since ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, `${what}: since`);
      assert.ok(Math.abs(Date.now() - Date.parse(d.since)) < 60_000, `${what}: since ${d.since} is not about now`);
    }
  }

  test("is not live before the broadcast, and unknown for a show without a channel", async () => {
    // Unknown until dev's first reconciliation (at start) finds the channel offline.
    const before = ok(await getStreamStatus(approved, liveShow), "status");
    assert.ok(before.status === "unknown" || before.status === "offline", `before any event: ${before.status}`);
    assertStatus(before, before.status, null, "before any event");
    const bare = dev.show("approved-seller", false).id;
    assertStatus(ok(await getStreamStatus(approved, bare), "status"), "unknown", null, "a show without a channel");
  });

  test("follows a broadcast: live and healthy, starving, healthy again, offline", async () => {
    const steps = [
      ["start", "live", "healthy"],
      ["starve", "live", "starving"],
      ["recover", "live", "healthy"],
      ["end", "offline", null],
    ];
    for (const [action, status, health] of steps) {
      await dev.simulate(liveShow, action);
      assertStatus(ok(await getStreamStatus(approved, liveShow), action), status, health, `after ${action}`);
    }
  });

  test("is open to the show's owner whatever their status, and to admins, through either kind of client", async () => {
    const pendingShow = dev.show("pending-seller", true).id;
    ok(await getStreamStatus(supabaseAs(dev.baseUrl, dev.user("pending-seller").token), pendingShow), "pending owner");
    ok(await getStreamStatus(functionsAs(dev.functionsUrl, dev.user("admin").token), pendingShow), "admin");
    ok(await getStreamStatus(functionsAs(dev.functionsUrl, dev.user("approved-seller").token), liveShow), "FunctionsClient");
  });

  const refusals = [
    ["no Authorization header", () => getStreamStatus(functionsAs(dev.functionsUrl, null), liveShow), 401, "Missing authorization header"],
    ["a showId that is not a UUID", () => getStreamStatus(approved, "show-1"), 400, "showId must be a UUID"],
    ["a user who is not a seller", () => getStreamStatus(supabaseAs(dev.baseUrl, dev.user("user").token), liveShow), 403, "Seller profile not found"],
    ["a show that does not exist", () => getStreamStatus(approved, UNKNOWN_SHOW), 404, "Show not found"],
    ["another seller's show", () => getStreamStatus(approved, dev.show("pending-seller", true).id), 403, "You do not own this show"],
  ];
  for (const [name, run, status, message] of refusals) {
    test(`refuses ${name}: ${status} "${message}"`, async () => {
      refused(await run(), status, message, name);
    });
  }
});

describe("parseRetryAfter", () => {
  test("reads delay-seconds and HTTP dates, and refuses anything else", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("30", now), 30);
    assert.equal(parseRetryAfter(" 0 ", now), 0);
    assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:01:30 GMT", now), 90);
    assert.equal(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now), 0);
    assert.equal(parseRetryAfter("soon", now), null);
    assert.equal(parseRetryAfter(null, now), null);
  });
});
