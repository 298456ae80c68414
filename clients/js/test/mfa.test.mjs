// The client against a real `ivs-ingest dev` with REQUIRE_MFA=true: the demo tokens say aal1 (a password
// sign-in), so getting, rotating and revoking a key are refused with the server's own message, which
// isMFARequired recognises and errorHint explains; the audit log stays readable.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { createClient } from "@supabase/supabase-js";

import {
  IngestError,
  MFA_HINT,
  MFA_REQUIRED_MESSAGE,
  errorHint,
  getAuditLog,
  getIngestDetails,
  isMFARequired,
  revokeStreamKey,
  rotateStreamKey,
} from "@ivs-ingest/client";

import { startDevServer } from "../../test-support/dev-server.mjs";

function supabaseAs(baseUrl, token) {
  return createClient(baseUrl, "dev-anon-key", { accessToken: async () => token });
}

/** Asserts r is the MFA refusal, recognised as such and with its hint. */
function mfaRefused(r, what) {
  assert.ok(r.data === null, `${what}: data on a refusal`);
  assert.ok(r.error instanceof IngestError, `${what}: error is not an IngestError`);
  assert.equal(r.error.kind, "http", what);
  assert.equal(r.error.status, 403, what);
  assert.equal(r.error.message, MFA_REQUIRED_MESSAGE, what);
  assert.equal(r.error.retryAfter, null, `${what}: a retry alone does not help`);
  assert.ok(isMFARequired(r.error), `${what}: isMFARequired is false`);
  assert.equal(errorHint(r.error), MFA_HINT, what);
}

describe("against ivs-ingest dev with REQUIRE_MFA=true", () => {
  let dev, seller, admin, show;

  before(async () => {
    dev = await startDevServer({ env: { REQUIRE_MFA: "true", RATE_LIMIT_REQUESTS_PER_MINUTE: "1000" } });
    seller = dev.user("approved-seller");
    admin = dev.user("admin");
    show = dev.show("approved-seller", true).id;
  });
  after(() => dev?.stop());

  test("refuses the seller's get, rotate and revoke with the MFA message and hint", async () => {
    const client = supabaseAs(dev.baseUrl, seller.token);
    mfaRefused(await getIngestDetails(client, show), "get");
    mfaRefused(await rotateStreamKey(client, show), "rotate");
    mfaRefused(await revokeStreamKey(client, show, { reason: "leaked" }), "revoke");
  });

  test("refuses an admin's too, impersonating or not", async () => {
    const client = supabaseAs(dev.baseUrl, admin.token);
    mfaRefused(await getIngestDetails(client, show, { impersonateSellerId: seller.sellerId }), "admin's get");
    mfaRefused(await revokeStreamKey(client, show), "admin's revoke");
  });

  test("leaves the audit log readable, with the refusals in it", async () => {
    const r = await getAuditLog(supabaseAs(dev.baseUrl, admin.token), { limit: 50 });
    assert.equal(r.error, null, `audit read: ${r.error?.message}`);
    assert.ok(
      r.data.entries.some((e) => e.action === "get" && e.outcome === "denied" && e.httpStatus === 403),
      "no denied get with status 403 in the audit log",
    );
  });
});

describe("isMFARequired and errorHint", () => {
  test("recognise only the server's 403 with that message", () => {
    const mfa = new IngestError("http", MFA_REQUIRED_MESSAGE, { status: 403 });
    assert.ok(isMFARequired(mfa));
    assert.equal(errorHint(mfa), MFA_HINT);
    for (const [what, e] of [
      ["another 403", new IngestError("http", "Seller not approved", { status: 403 })],
      ["the message with another status", new IngestError("http", MFA_REQUIRED_MESSAGE, { status: 401 })],
      ["the message from a relay", new IngestError("relay", MFA_REQUIRED_MESSAGE, { status: 403 })],
      ["a network error", new IngestError("network", "Could not reach the streaming service")],
    ]) {
      assert.equal(isMFARequired(e), false, what);
      assert.equal(errorHint(e), null, what);
    }
    assert.equal(isMFARequired(null), false);
  });
});
