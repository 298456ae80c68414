/**
 * Typed client for ivs-ingest, and for the `get-ivs-ingest` Supabase Edge Function it replaces.
 *
 * Every call answers `{data, error}` and never throws. Unlike a bare `functions.invoke`, whose error for any
 * refusal says only "Edge Function returned a non-2xx status code", `error.message` here is the server's own
 * reason ("Seller not approved", "Show not found", ...), with the HTTP status and, when the server asks the
 * caller to wait, `retryAfter` in seconds.
 *
 * @packageDocumentation
 */

/** The names of the functions, the last segment of their paths under `/functions/v1/`. */
export const FunctionNames = {
  getIngest: "get-ivs-ingest",
  rotate: "rotate-ivs-stream-key",
  revoke: "revoke-ivs-stream-key",
  audit: "ivs-audit",
  streamStatus: "ivs-stream-status",
} as const;

/** The header with which an admin acts as a seller. */
export const IMPERSONATE_HEADER = "X-Impersonate-Seller-Id";

/**
 * What this package needs of a functions client: `supabase.functions` of supabase-js, or a
 * `FunctionsClient` of `@supabase/functions-js` (for example one pointed at a self-hosted
 * `https://ingest.example.com/functions/v1`). Declared structurally so that any copy of those packages fits.
 */
export interface FunctionsInvoker {
  invoke(
    functionName: string,
    options?: {
      headers?: { [key: string]: string };
      method?: "POST" | "GET" | "PUT" | "PATCH" | "DELETE";
      body?: any;
      signal?: AbortSignal;
    },
  ): Promise<{ data: unknown; error: unknown; response?: Response }>;
}

/** A `SupabaseClient` (its `functions`), or a functions client itself. */
export type IngestClient = FunctionsInvoker | { readonly functions: FunctionsInvoker };

/** A seller's ingest details: what OBS needs to go live. */
export interface IngestDetails {
  /** Same as `serverUrl`; the Edge Function's original name for it. */
  ingestEndpoint: string;
  /** The RTMPS server URL, `rtmps://<host>:443/app/`. */
  serverUrl: string;
  /** The stream key, a secret: whoever has it can broadcast on the show's channel. */
  streamKey: string;
  /** A hint to show next to the key. */
  streamKeyHint: string;
  /** `srt://<host>:9000?streamid=<key>&passphrase=<passphrase>`, when the channel has an SRT endpoint. A secret too. */
  srtUrl?: string;
}

/** The answer to a revocation. */
export interface Revocation {
  revoked: true;
}

/** What an audit row records. `create` is a `get` for which a key was made. */
export type AuditAction = "get" | "create" | "rotate" | "revoke" | "expire" | "audit_read";

/** `denied` is a 4xx answer, `error` a 5xx one. */
export type AuditOutcome = "allowed" | "denied" | "error";

/** One row of the audit trail. Empty fields are left out by the server. */
export interface AuditEntry {
  id: number;
  /** RFC 3339 time. */
  occurredAt: string;
  requestId: string;
  action: AuditAction;
  outcome: AuditOutcome;
  /** 0 for rows written by the operator commands. */
  httpStatus: number;
  actorUserId?: string;
  impersonatedSellerId?: string;
  sellerId?: string;
  showId?: string;
  streamKeyArn?: string;
  clientIp?: string;
  userAgent?: string;
  reason?: string;
}

/** The audit trail, newest first. */
export interface AuditLog {
  entries: AuditEntry[];
}

/** Whether IVS receives the show's stream: `unknown` until an IVS event or a reconciliation has said. */
export type StreamState = "live" | "offline" | "unknown";

/** How a live stream fares: `starving` when IVS receives too little video. */
export type StreamHealth = "healthy" | "starving";

/** The show's stream status, as IVS last reported it. */
export interface StreamStatus {
  status: StreamState;
  /** Null unless the stream is live (and IVS has said how it fares). */
  health: StreamHealth | null;
  /** RFC 3339 UTC time at which the status began, or null when unknown. */
  since: string | null;
}

/**
 * How a call failed:
 * - `http`: the server answered with an error; `status` and the server's `message` say why.
 * - `network`: no answer could be read: the server is down or unreachable, or (in a browser) the answer lacked
 *   CORS headers, which browsers report the same way on purpose.
 * - `relay`: Supabase's relay failed before reaching the function (`x-relay-error: true`).
 * - `response`: a 2xx answer that is not what ivs-ingest sends: the client probably points at the wrong URL.
 * - `aborted`: the caller's `signal` aborted the call.
 * - `timeout`: no answer within `timeoutMs` (see {@link CallOptions}): a proxy or a network that accepted the
 *   request and never answered. Worth another try, as `network` is.
 */
export type IngestErrorKind = "http" | "network" | "relay" | "response" | "aborted" | "timeout";

/** The error of a failed call. Its message is the server's when the server gave one. */
export class IngestError extends Error {
  override readonly name = "IngestError";
  /** See {@link IngestErrorKind}. */
  readonly kind: IngestErrorKind;
  /** The HTTP status, or null when no answer was read. */
  readonly status: number | null;
  /** Seconds to wait before trying again, when the server said (429, and 503 when it knows), else null. */
  readonly retryAfter: number | null;
  /** The server's `X-Request-Id`, to find the request in its logs, or null. */
  readonly requestId: string | null;

  constructor(
    kind: IngestErrorKind,
    message: string,
    init: { status?: number | null; retryAfter?: number | null; requestId?: string | null; cause?: unknown } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = kind;
    this.status = init.status ?? null;
    this.retryAfter = init.retryAfter ?? null;
    this.requestId = init.requestId ?? null;
  }
}

/**
 * The message of the server's 403 when it requires multi-factor authentication (`REQUIRE_MFA=true`) and the
 * caller's session has not verified a second factor (the access token's `aal` is not `aal2`). It refuses getting,
 * rotating and revoking a key, admins' requests too; reading the audit log stays open.
 */
export const MFA_REQUIRED_MESSAGE = "Multi-factor authentication required";

/** What a seller refused for want of a second factor can do about it; see {@link errorHint}. */
export const MFA_HINT =
  "Turn on two-factor sign-in for your account, sign in again with your second factor, then retry. " +
  "If you cannot and your key has leaked, ask an admin to revoke it.";

/** Whether error is the server's refusal for want of a second factor ({@link MFA_REQUIRED_MESSAGE}). */
export function isMFARequired(error: IngestError | null | undefined): boolean {
  return error != null && error.kind === "http" && error.status === 403 && error.message === MFA_REQUIRED_MESSAGE;
}

/**
 * What the user can do about error, in a sentence to show after its message, or null when the message says it
 * all. Today: the way out of {@link MFA_REQUIRED_MESSAGE}, which a retry alone never gets past.
 */
export function errorHint(error: IngestError): string | null {
  return isMFARequired(error) ? MFA_HINT : null;
}

/** The answer of every call: data, or the reason there is none. */
export type Result<T> = { data: T; error: null } | { data: null; error: IngestError };

/**
 * The default of {@link CallOptions.timeoutMs}, 150 s: longer than the server's own bound on a request (130 s
 * by default), so that a server which is slow but answering gets to say so (a 503 or 504 with its reason)
 * before the client gives up.
 */
export const DEFAULT_TIMEOUT_MS = 150_000;

/** Options of every call. */
export interface CallOptions {
  /** Aborts the call: it then answers an error of kind `aborted`. */
  signal?: AbortSignal;
  /**
   * Milliseconds to wait for the whole answer, from sending the request to reading its body, before giving up
   * with an error of kind `timeout`. Default {@link DEFAULT_TIMEOUT_MS}; `0` or `Infinity` waits for ever.
   */
  timeoutMs?: number;
}

/** Options of calls that act on a show as a seller. */
export interface ShowCallOptions extends CallOptions {
  /** For admins: act as this seller (`sellers.id`). The seller's approval is then not required. */
  impersonateSellerId?: string;
}

/** Options of {@link revokeStreamKey}. */
export interface RevokeOptions extends CallOptions {
  /** Why, kept in the audit log: at most 500 characters, no control characters. */
  reason?: string;
}

/** Options of {@link getAuditLog}. */
export interface AuditLogOptions extends CallOptions {
  /** Only this show's rows. Admins may leave it out to read every show's. */
  showId?: string;
  /** 1 to 500; the server's default is 50. */
  limit?: number;
}

/**
 * Returns the RTMPS server URL and stream key of the show's channel, creating the key on first use.
 * Refusals (`error.kind === "http"`) carry the server's message, for example 403 "Seller not approved".
 */
export function getIngestDetails(
  client: IngestClient,
  showId: string,
  options: ShowCallOptions = {},
): Promise<Result<IngestDetails>> {
  return call(client, FunctionNames.getIngest, {
    body: { showId },
    headers: impersonation(options.impersonateSellerId),
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    accept: isIngestDetails,
  });
}

/**
 * Replaces the show's stream key and answers like {@link getIngestDetails} with the new one. The old key stops
 * working at once, and a stream that is live with it is cut.
 */
export function rotateStreamKey(
  client: IngestClient,
  showId: string,
  options: ShowCallOptions = {},
): Promise<Result<IngestDetails>> {
  return call(client, FunctionNames.rotate, {
    body: { showId },
    headers: impersonation(options.impersonateSellerId),
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    accept: isIngestDetails,
  });
}

/**
 * Deletes the show's stream key (a leaked one, say) and cuts any live stream. The owner's next
 * {@link getIngestDetails} makes a fresh key. Allowed to the show's owner whatever their status, and to admins.
 */
export function revokeStreamKey(
  client: IngestClient,
  showId: string,
  options: RevokeOptions = {},
): Promise<Result<Revocation>> {
  const body: { showId: string; reason?: string } = { showId };
  if (options.reason !== undefined) body.reason = options.reason;
  return call(client, FunctionNames.revoke, {
    body,
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    accept: (v): v is Revocation => isObject(v) && v.revoked === true,
  });
}

/** Reads the audit trail, newest first: a seller their own shows', an admin any show's or every show's. */
export function getAuditLog(client: IngestClient, options: AuditLogOptions = {}): Promise<Result<AuditLog>> {
  const query = new URLSearchParams();
  if (options.showId !== undefined) query.set("showId", options.showId);
  if (options.limit !== undefined) query.set("limit", String(options.limit));
  const q = query.toString();
  return call(client, q ? `${FunctionNames.audit}?${q}` : FunctionNames.audit, {
    method: "GET",
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    accept: (v): v is AuditLog => isObject(v) && Array.isArray(v.entries),
  });
}

/**
 * Reads whether the show is live: `{status, health, since}`. Allowed to the show's owner whatever their seller
 * status, and to admins. It reveals no key, writes no audit row, and has a request budget of its own on the server,
 * so polling it (every 10 s, say) never spends what the seller needs for their key. Refusals are those of the other
 * calls (401, 400 "showId must be a UUID", 403, 404 "Show not found", 429 with `retryAfter`).
 */
export function getStreamStatus(client: IngestClient, showId: string, options: CallOptions = {}): Promise<Result<StreamStatus>> {
  return call(client, `${FunctionNames.streamStatus}?${new URLSearchParams({ showId })}`, {
    method: "GET",
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    accept: isStreamStatus,
  });
}

function impersonation(sellerId: string | undefined): Record<string, string> | undefined {
  return sellerId ? { [IMPERSONATE_HEADER]: sellerId } : undefined;
}

async function call<T>(
  client: IngestClient,
  name: string,
  req: {
    method?: "POST" | "GET";
    body?: Record<string, unknown>;
    headers?: Record<string, string> | undefined;
    signal?: AbortSignal | undefined;
    timeoutMs?: number | undefined;
    accept: (v: unknown) => v is T;
  },
): Promise<Result<T>> {
  const functions = "invoke" in client ? client : client.functions;
  const deadline = withDeadline(req.signal, req.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    let answer: { data: unknown; error: unknown };
    try {
      // Raced with the signal: a custom fetch or another client that ignores the signal still ends.
      answer = await Promise.race([
        functions.invoke(name, {
          method: req.method ?? "POST",
          ...(req.body && { body: req.body }),
          ...(req.headers && { headers: req.headers }),
          ...(deadline.signal && { signal: deadline.signal }),
        }),
        deadline.aborted,
      ]);
    } catch (err) {
      // functions-js catches its own errors; a custom fetch or another client may not.
      answer = { data: null, error: err };
    }
    if (answer.error != null) {
      // A refusal's body is read under the same deadline: it may stall too.
      let error: IngestError | null = null;
      try {
        error = await Promise.race([toIngestError(answer.error, req.signal), deadline.aborted]);
      } catch {
        // the deadline or the caller ended the read
      }
      if (req.signal?.aborted) {
        error = new IngestError("aborted", "The request was aborted", { cause: answer.error });
      } else if (deadline.timedOut() || error === null) {
        error = timeoutError(req.timeoutMs ?? DEFAULT_TIMEOUT_MS, answer.error);
      }
      return { data: null, error };
    }
    if (!req.accept(answer.data)) {
      return {
        data: null,
        error: new IngestError("response", "The server's answer is not an ivs-ingest answer: check the functions URL"),
      };
    }
    return { data: answer.data, error: null };
  } finally {
    deadline.done();
  }
}

/** A timeout; status and requestId are those of an answer whose body did not come in time, if one came. */
function timeoutError(timeoutMs: number, cause: unknown): IngestError {
  const context = isObject(cause) ? cause.context : undefined;
  const res = isResponse(context) ? context : null;
  const seconds = Math.round(timeoutMs / 100) / 10;
  return new IngestError("timeout", `The streaming service did not answer within ${seconds} s`, {
    cause,
    status: res?.status ?? null,
    requestId: res?.headers.get("X-Request-Id") ?? null,
  });
}

// setTimeout's longest delay; a longer one would fire at once.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The caller's signal combined with a timer of timeoutMs: `signal` aborts when either does (undefined when
 * there is neither), `aborted` rejects then, `timedOut()` says whether the timer fired, `done()` stops both.
 */
function withDeadline(
  callerSignal: AbortSignal | undefined,
  timeoutMs: number,
): { signal: AbortSignal | undefined; aborted: Promise<never>; timedOut: () => boolean; done: () => void } {
  const cleanups: Array<() => void> = [];
  let fired = false;
  let signal = callerSignal;
  if (timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS) {
    const timer = new AbortController();
    const id = setTimeout(() => {
      fired = true;
      timer.abort(timeoutReason(timeoutMs));
    }, timeoutMs);
    cleanups.push(() => clearTimeout(id));
    signal = callerSignal ? anySignal([callerSignal, timer.signal], cleanups) : timer.signal;
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    onAbort = () => reject(signal.reason ?? abortReason());
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {}); // only ever awaited in the race
  cleanups.push(() => {
    if (signal && onAbort) signal.removeEventListener("abort", onAbort);
  });
  return {
    signal,
    aborted,
    timedOut: () => fired,
    done: () => cleanups.splice(0).forEach((f) => f()),
  };
}

/** AbortSignal.any where the runtime has it (browsers since 2023-24, Node 20.3), else the same by listeners. */
function anySignal(signals: AbortSignal[], cleanups: Array<() => void>): AbortSignal {
  const any = (AbortSignal as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  if (typeof any === "function") return any.call(AbortSignal, signals);
  const controller = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      controller.abort(s.reason);
      return controller.signal;
    }
  }
  for (const s of signals) {
    const onAbort = () => controller.abort(s.reason);
    s.addEventListener("abort", onAbort, { once: true });
    cleanups.push(() => s.removeEventListener("abort", onAbort));
  }
  return controller.signal;
}

function timeoutReason(timeoutMs: number): unknown {
  return domException(`No answer within ${timeoutMs} ms`, "TimeoutError");
}

function abortReason(): unknown {
  return domException("The request was aborted", "AbortError");
}

function domException(message: string, name: string): unknown {
  if (typeof DOMException === "function") return new DOMException(message, name);
  const err = new Error(message);
  err.name = name;
  return err;
}

/** Turns what a functions client returned as its error into an IngestError, reading the server's answer. */
async function toIngestError(err: unknown, signal: AbortSignal | undefined): Promise<IngestError> {
  const name = isObject(err) && typeof err.name === "string" ? err.name : "";
  const context = isObject(err) ? err.context : undefined;
  // By name, not instanceof: the app's copy of functions-js may not be the one this package would import.
  if ((name === "FunctionsHttpError" || name === "FunctionsRelayError") && isResponse(context)) {
    return fromResponse(name === "FunctionsRelayError" ? "relay" : "http", context);
  }
  if (signal?.aborted || (isObject(context) && context.name === "AbortError") || name === "AbortError") {
    return new IngestError("aborted", "The request was aborted", { cause: err });
  }
  return new IngestError(
    "network",
    "Could not reach the streaming service: it is down or unreachable, or it refused this site (CORS)",
    { cause: err },
  );
}

async function fromResponse(kind: "http" | "relay", res: Response): Promise<IngestError> {
  let body: unknown;
  try {
    if (!res.bodyUsed) body = JSON.parse(await res.text());
  } catch {
    body = undefined; // not JSON: a proxy's page, say
  }
  const serverMessage = isObject(body) && typeof body.error === "string" && body.error ? body.error : null;
  let retryAfter: number | null = null;
  if (isObject(body) && typeof body.retryAfter === "number" && body.retryAfter > 0) {
    retryAfter = body.retryAfter;
  } else {
    retryAfter = parseRetryAfter(res.headers.get("Retry-After"));
  }
  const message =
    serverMessage ??
    (kind === "relay"
      ? `The functions relay failed (HTTP ${res.status})`
      : `The server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
  return new IngestError(kind, message, {
    status: res.status,
    retryAfter,
    requestId: res.headers.get("X-Request-Id"),
  });
}

/** Parses Retry-After, delay-seconds or an HTTP date, into whole seconds. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value == null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

function isIngestDetails(v: unknown): v is IngestDetails {
  return (
    isObject(v) &&
    typeof v.serverUrl === "string" &&
    typeof v.streamKey === "string" &&
    typeof v.ingestEndpoint === "string" &&
    typeof v.streamKeyHint === "string" &&
    (v.srtUrl === undefined || typeof v.srtUrl === "string")
  );
}

function isStreamStatus(v: unknown): v is StreamStatus {
  return (
    isObject(v) &&
    (v.status === "live" || v.status === "offline" || v.status === "unknown") &&
    (v.health === null || v.health === "healthy" || v.health === "starving") &&
    (v.since === null || typeof v.since === "string")
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function isResponse(v: unknown): v is Response {
  return isObject(v) && typeof v.status === "number" && typeof v.text === "function" && isObject(v.headers);
}
