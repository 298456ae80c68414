import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useId,
  useRef,
  useState,
  type ReactNode,
} from "react";

import {
  errorHint,
  getIngestDetails,
  getStreamStatus,
  rotateStreamKey,
  type IngestClient,
  type IngestDetails,
  type IngestError,
  type StreamStatus,
} from "@ivs-ingest/client";

const IngestClientContext = createContext<IngestClient | null>(null);

/** Provides the client (a SupabaseClient, or a FunctionsClient for a self-hosted ivs-ingest) to the panels below. */
export function IngestClientProvider({ client, children }: { client: IngestClient; children?: ReactNode }) {
  return <IngestClientContext.Provider value={client}>{children}</IngestClientContext.Provider>;
}

/** The client of the nearest {@link IngestClientProvider}. */
export function useIngestClient(): IngestClient | null {
  return useContext(IngestClientContext);
}

export interface IngestDetailsPanelProps {
  /** The show to go live with. */
  showId: string;
  /** The client; defaults to the one of the nearest {@link IngestClientProvider}. */
  client?: IngestClient;
  /** For admins: act as this seller. */
  impersonateSellerId?: string;
  /**
   * How long to wait for the service's answer, in milliseconds, before saying it did not answer. Default the
   * client's, `DEFAULT_TIMEOUT_MS` (150 s); `0` or `Infinity` waits for ever.
   */
  timeoutMs?: number;
  /** The panel's heading. Default "Go live". */
  title?: string;
  /** The level of the panel's heading; its sections use the next one. Default 2. */
  headingLevel?: 2 | 3 | 4 | 5;
  /** Extra class names for the panel's root. */
  className?: string;
  /** Called with the new details after a successful reset. */
  onStreamKeyReset?: (details: IngestDetails) => void;
  /**
   * How often the live indicator asks whether the show is live, in milliseconds, while the page is visible.
   * Default {@link DEFAULT_STATUS_INTERVAL_MS} (10 s); `0` leaves the indicator out.
   */
  statusIntervalMs?: number;
  /** How long the live indicator waits after a failed read. Default {@link DEFAULT_STATUS_ERROR_INTERVAL_MS} (60 s). */
  statusErrorIntervalMs?: number;
}

/** How often the live indicator refreshes while the page is visible: 10 s. */
export const DEFAULT_STATUS_INTERVAL_MS = 10_000;
/** How long the live indicator backs off after a failed read: 60 s. */
export const DEFAULT_STATUS_ERROR_INTERVAL_MS = 60_000;
/** How long one read of the live indicator may take when the panel has no `timeoutMs`: 30 s. */
const STATUS_TIMEOUT_MS = 30_000;

type Copyable = "Server URL" | "Stream key" | "SRT URL";

/**
 * The seller's "Go live" panel: fetches the show's ingest details on request, shows the server URL and the
 * masked stream key with copy buttons, the SRT URL when there is one, how to set up OBS, and a confirmed
 * "Reset stream key". A refusal shows the server's own reason ("Seller not approved", ...).
 *
 * Unstyled but for `@ivs-ingest/react/styles.css`, whose rules all have zero specificity, so any rule of the
 * host app wins. Class names start with `ivs-ingest-`.
 */
export function IngestDetailsPanel({
  showId,
  client: clientProp,
  impersonateSellerId,
  timeoutMs,
  title = "Go live",
  headingLevel = 2,
  className,
  onStreamKeyReset,
  statusIntervalMs = DEFAULT_STATUS_INTERVAL_MS,
  statusErrorIntervalMs = DEFAULT_STATUS_ERROR_INTERVAL_MS,
}: IngestDetailsPanelProps) {
  const contextClient = useIngestClient();
  const client = clientProp ?? contextClient;
  const ids = usePanelIds();
  const [details, setDetails] = useState<IngestDetails | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<IngestError | null>(null);
  const [resetting, setResetting] = useState(false);
  const [resetError, setResetError] = useState<IngestError | null>(null);
  const [status, setStatus] = useState("");
  // Secrets are masked again whenever new details arrive: the key prop remounts the fields.
  const [generation, setGeneration] = useState(0);

  const serverUrlRef = useRef<HTMLInputElement>(null);
  const fetchButtonRef = useRef<HTMLButtonElement>(null);
  const resetButtonRef = useRef<HTMLButtonElement>(null);
  const cancelButtonRef = useRef<HTMLButtonElement>(null);
  const dialogRef = useRef<HTMLDialogElement>(null);
  const inFlight = useRef<AbortController | null>(null);
  const focusAfterLoad = useRef(false);

  // Another show (or seller) is another panel: forget everything, cancel what is in flight.
  useEffect(() => {
    setDetails(null);
    setError(null);
    setResetError(null);
    setLoading(false);
    setResetting(false);
    setStatus("");
    return () => inFlight.current?.abort();
  }, [showId, impersonateSellerId, client]);

  useEffect(() => {
    if (details && focusAfterLoad.current) {
      focusAfterLoad.current = false;
      serverUrlRef.current?.focus();
    }
  }, [details]);

  const begin = () => {
    inFlight.current?.abort();
    const controller = new AbortController();
    inFlight.current = controller;
    return controller;
  };

  const load = useCallback(async () => {
    if (loading || !client) return;
    const controller = begin();
    setLoading(true);
    setError(null);
    setStatus("Getting your stream details…");
    const r = await getIngestDetails(client, showId, { impersonateSellerId, signal: controller.signal, timeoutMs });
    if (controller.signal.aborted) return;
    setLoading(false);
    if (r.error) {
      setError(r.error);
      setStatus("");
      return;
    }
    focusAfterLoad.current = true;
    setDetails(r.data);
    setGeneration((g) => g + 1);
    setStatus("Stream details ready.");
  }, [client, showId, impersonateSellerId, timeoutMs, loading]);

  const openResetDialog = () => {
    setResetError(null);
    dialogRef.current?.showModal();
    // The safe choice gets the focus: Enter or Space on it changes nothing.
    cancelButtonRef.current?.focus();
  };

  const closeResetDialog = () => {
    if (dialogRef.current?.open) dialogRef.current.close();
  };

  const confirmReset = async () => {
    if (resetting || !client) return;
    const controller = begin();
    setResetting(true);
    setStatus("Resetting the stream key…");
    const r = await rotateStreamKey(client, showId, { impersonateSellerId, signal: controller.signal, timeoutMs });
    if (controller.signal.aborted) return;
    setResetting(false);
    closeResetDialog();
    if (r.error) {
      setResetError(r.error);
      setStatus("");
    } else {
      setDetails(r.data);
      setGeneration((g) => g + 1);
      setStatus("Stream key reset. Paste the new key into OBS before you go live again.");
      onStreamKeyReset?.(r.data);
    }
    resetButtonRef.current?.focus();
  };

  const copy = async (what: Copyable, value: string) => {
    try {
      await navigator.clipboard.writeText(value);
      setStatus(`${what} copied.`);
    } catch {
      setStatus(`Could not copy the ${what.toLowerCase()}: select it and copy it by hand.`);
    }
  };

  const H = `h${headingLevel}` as "h2";
  const H2 = `h${Math.min(headingLevel + 1, 6)}` as "h3";
  const rootClass = ["ivs-ingest-panel", className].filter(Boolean).join(" ");

  if (!client) {
    return (
      <section className={rootClass} aria-labelledby={ids.heading}>
        <H id={ids.heading} className="ivs-ingest-heading">
          {title}
        </H>
        <p className="ivs-ingest-error" role="alert">
          No ivs-ingest client: pass <code>client</code> or wrap the panel in an IngestClientProvider.
        </p>
      </section>
    );
  }

  return (
    <section className={rootClass} aria-labelledby={ids.heading} aria-busy={loading || resetting}>
      <H id={ids.heading} className="ivs-ingest-heading">
        {title}
      </H>

      {statusIntervalMs > 0 && (
        <StreamStatusIndicator
          key={showId}
          client={client}
          showId={showId}
          intervalMs={statusIntervalMs}
          errorIntervalMs={statusErrorIntervalMs}
          timeoutMs={timeoutMs ?? STATUS_TIMEOUT_MS}
        />
      )}

      {!details && (
        <div className="ivs-ingest-start">
          <p className="ivs-ingest-intro">
            Get the server URL and stream key to paste into OBS or your streaming software.
          </p>
          <button
            ref={fetchButtonRef}
            type="button"
            className="ivs-ingest-button ivs-ingest-button-primary"
            onClick={load}
            // aria-disabled, not disabled: a disabled button would drop the keyboard focus.
            aria-disabled={loading}
          >
            {loading ? "Getting stream details…" : error ? "Try again" : "Get stream details"}
          </button>
        </div>
      )}

      {error && !details && <ErrorMessage error={error} what="Could not get your stream details" />}

      {details && (
        <div className="ivs-ingest-details">
          <div className="ivs-ingest-field">
            <label className="ivs-ingest-label" htmlFor={ids.serverUrl}>
              Server URL
            </label>
            <div className="ivs-ingest-row">
              <input
                ref={serverUrlRef}
                id={ids.serverUrl}
                className="ivs-ingest-input"
                type="text"
                readOnly
                value={details.serverUrl}
                spellCheck={false}
                autoComplete="off"
                onFocus={(e) => e.currentTarget.select()}
              />
              <button type="button" className="ivs-ingest-button" onClick={() => copy("Server URL", details.serverUrl)}>
                Copy<span className="ivs-ingest-visually-hidden"> server URL</span>
              </button>
            </div>
          </div>

          <SecretField
            key={`key-${generation}`}
            id={ids.streamKey}
            label="Stream key"
            value={details.streamKey}
            hint={`${details.streamKeyHint}. Keep it secret: anyone who has it can broadcast on your show.`}
            hintId={ids.streamKeyHint}
            onCopy={() => copy("Stream key", details.streamKey)}
          />

          {details.srtUrl && (
            <SecretField
              key={`srt-${generation}`}
              id={ids.srtUrl}
              label="SRT URL"
              value={details.srtUrl}
              hint="For encoders that stream over SRT instead of RTMPS. It contains the stream key."
              hintId={ids.srtHint}
              onCopy={() => copy("SRT URL", details.srtUrl ?? "")}
            />
          )}

          <section className="ivs-ingest-section" aria-labelledby={ids.obsHeading}>
            <H2 id={ids.obsHeading} className="ivs-ingest-subheading">
              Set up OBS
            </H2>
            <ol className="ivs-ingest-steps">
              <li>
                In OBS, open <strong>Settings</strong>, then <strong>Stream</strong>.
              </li>
              <li>
                Set <strong>Service</strong> to <strong>Custom…</strong>
              </li>
              <li>
                Paste the <strong>Server URL</strong> into <strong>Server</strong>.
              </li>
              <li>
                Paste the <strong>stream key</strong> into <strong>Stream Key</strong>.
              </li>
              <li>
                Click <strong>Apply</strong>, then <strong>Start Streaming</strong>.
              </li>
            </ol>
            <p className="ivs-ingest-tip">
              In <strong>Settings → Output</strong>, set the keyframe interval to 2 s, as Amazon IVS recommends.
            </p>
          </section>

          <section className="ivs-ingest-section ivs-ingest-danger" aria-labelledby={ids.resetHeading}>
            <H2 id={ids.resetHeading} className="ivs-ingest-subheading">
              Reset stream key
            </H2>
            <p>If your stream key leaked, reset it: the old key stops working and you get a new one.</p>
            <button
              ref={resetButtonRef}
              type="button"
              className="ivs-ingest-button ivs-ingest-button-danger"
              onClick={openResetDialog}
            >
              Reset stream key
            </button>
            {resetError && <ErrorMessage error={resetError} what="The stream key was not reset" />}
          </section>
        </div>
      )}

      <dialog
        ref={dialogRef}
        className="ivs-ingest-dialog"
        aria-labelledby={ids.dialogHeading}
        aria-describedby={ids.dialogText}
        onCancel={(e) => {
          if (resetting) e.preventDefault(); // Escape cannot hide a reset in progress
        }}
        onClose={() => {
          if (!resetting) resetButtonRef.current?.focus();
        }}
      >
        <H2 id={ids.dialogHeading} className="ivs-ingest-subheading">
          Reset the stream key?
        </H2>
        <div id={ids.dialogText}>
          <p>
            <strong>If you are live now, your stream will be cut immediately.</strong> The current key stops working at
            once, and OBS can only go live again with the new key.
          </p>
          <p>After the reset, copy the new key into OBS (Settings → Stream → Stream Key).</p>
        </div>
        <div className="ivs-ingest-dialog-actions">
          <button
            ref={cancelButtonRef}
            type="button"
            className="ivs-ingest-button"
            onClick={() => {
              if (!resetting) closeResetDialog();
            }}
            aria-disabled={resetting}
          >
            Cancel
          </button>
          <button
            type="button"
            className="ivs-ingest-button ivs-ingest-button-danger"
            onClick={confirmReset}
            aria-disabled={resetting}
          >
            {resetting ? "Resetting…" : "Reset stream key"}
          </button>
        </div>
      </dialog>

      <p className="ivs-ingest-status" role="status">
        {status}
      </p>
    </section>
  );
}

/** Props of {@link StreamStatusIndicator}. */
export interface StreamStatusIndicatorProps {
  client: IngestClient;
  showId: string;
  /** Milliseconds between reads while the page is visible. Default {@link DEFAULT_STATUS_INTERVAL_MS}. */
  intervalMs?: number;
  /** Milliseconds to wait after a failed read (or the server's `retryAfter`, when longer). Default 60 s. */
  errorIntervalMs?: number;
  /** How long one read may take. Default 30 s. */
  timeoutMs?: number;
}

/**
 * Whether the show is live, as a line the panel shows under its heading: "Live", "Offline", "Not live yet"
 * (IVS has said nothing yet), or the warning that IVS receives too little video. It reads the status every
 * `intervalMs` while the page is visible, stops while it is hidden, reads at once when it is visible again, and
 * waits `errorIntervalMs` after a failure (keeping the last status it knew, marked `data-stale`). A polite live
 * region, so screen readers announce each change without interrupting.
 */
export function StreamStatusIndicator({
  client,
  showId,
  intervalMs = DEFAULT_STATUS_INTERVAL_MS,
  errorIntervalMs = DEFAULT_STATUS_ERROR_INTERVAL_MS,
  timeoutMs = STATUS_TIMEOUT_MS,
}: StreamStatusIndicatorProps) {
  const [status, setStatus] = useState<StreamStatus | null>(null);
  const [stale, setStale] = useState(false);

  useEffect(() => {
    setStatus(null);
    setStale(false);
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight: AbortController | null = null;
    const visible = () => typeof document === "undefined" || document.visibilityState === "visible";
    const schedule = (ms: number) => {
      clearTimeout(timer);
      if (!stopped && visible()) timer = setTimeout(() => void read(), ms);
    };
    const read = async () => {
      clearTimeout(timer);
      if (stopped || !visible()) return;
      inFlight?.abort();
      const controller = new AbortController();
      inFlight = controller;
      const r = await getStreamStatus(client, showId, { signal: controller.signal, timeoutMs });
      if (stopped || controller.signal.aborted) return;
      if (r.error) {
        setStale(true);
        schedule(Math.max(errorIntervalMs, (r.error.retryAfter ?? 0) * 1000));
      } else {
        setStatus(r.data);
        setStale(false);
        schedule(intervalMs);
      }
    };
    // Hidden: no reads (a background tab polls nobody's server); visible again: read at once.
    const onVisibility = () => {
      if (visible()) {
        void read();
      } else {
        clearTimeout(timer);
        inFlight?.abort();
      }
    };
    document.addEventListener("visibilitychange", onVisibility);
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
      inFlight?.abort();
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [client, showId, intervalMs, errorIntervalMs, timeoutMs]);

  const kind = status === null ? "none" : status.status === "live" && status.health === "starving" ? "starving" : status.status;
  return (
    // Always rendered, empty at first: a live region must be in the page before the text it announces.
    <p className="ivs-ingest-live" role="status" aria-live="polite" data-status={kind} data-stale={stale}>
      {status && (
        <>
          <span className="ivs-ingest-live-dot" aria-hidden="true" />
          {describeStreamStatus(status)}
        </>
      )}
    </p>
  );
}

/** The live indicator's words for status. */
export function describeStreamStatus(status: StreamStatus): string {
  switch (status.status) {
    case "live":
      return status.health === "starving" ? "Live, but IVS receives too little video: check your upload" : "Live";
    case "offline":
      return "Offline";
    default:
      return "Not live yet";
  }
}

/** A read-only secret, masked until revealed, with a copy button that copies it either way. */
function SecretField(props: {
  id: string;
  label: string;
  value: string;
  hint: string;
  hintId: string;
  onCopy: () => void;
}) {
  const [revealed, setRevealed] = useState(false);
  const lower = props.label.charAt(0).toLowerCase() + props.label.slice(1);
  return (
    <div className="ivs-ingest-field">
      <label className="ivs-ingest-label" htmlFor={props.id}>
        {props.label}
      </label>
      <div className="ivs-ingest-row">
        <input
          id={props.id}
          className="ivs-ingest-input ivs-ingest-secret"
          type={revealed ? "text" : "password"}
          readOnly
          value={props.value}
          spellCheck={false}
          autoComplete="off"
          aria-describedby={props.hintId}
          data-revealed={revealed}
        />
        <button
          type="button"
          className="ivs-ingest-button"
          aria-pressed={revealed}
          aria-controls={props.id}
          onClick={() => setRevealed((r) => !r)}
        >
          {revealed ? "Hide" : "Show"}
          <span className="ivs-ingest-visually-hidden"> {lower}</span>
        </button>
        <button type="button" className="ivs-ingest-button" onClick={props.onCopy}>
          Copy<span className="ivs-ingest-visually-hidden"> {lower}</span>
        </button>
      </div>
      <p id={props.hintId} className="ivs-ingest-hint">
        {props.hint}
      </p>
    </div>
  );
}

/**
 * A refusal or failure, worded for the seller: the server's own reason when it gave one. `data-kind` holds the
 * error's kind (`http`, `network`, `timeout`, ...) for the host app's styles and tests.
 */
function ErrorMessage({ error, what }: { error: IngestError; what: string }) {
  return (
    <div className="ivs-ingest-error" role="alert" data-kind={error.kind}>
      <p>
        <strong>{what}:</strong> {describeError(error)}
      </p>
      {error.retryAfter != null && error.retryAfter > 0 && (
        <p>Try again in {formatWait(error.retryAfter)}.</p>
      )}
    </div>
  );
}

/**
 * The text the panel shows for error: the server's message, followed by what to do about it when the client
 * knows (`errorHint`: a refusal for want of a second factor says how to get past it).
 */
export function describeError(error: IngestError): string {
  switch (error.kind) {
    case "http":
    case "relay": {
      const hint = errorHint(error);
      return hint ? `${error.message}. ${hint}` : error.message;
    }
    case "network":
      return "the streaming service could not be reached. Check your connection and try again.";
    case "timeout":
      return "the streaming service did not answer in time. Try again in a moment.";
    case "response":
      return "the streaming service answered something unexpected. Its URL may be misconfigured.";
    case "aborted":
      return "the request was cancelled.";
  }
}

function formatWait(seconds: number): string {
  if (seconds < 90) return seconds === 1 ? "1 second" : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

function usePanelIds() {
  const base = useId();
  return {
    heading: `${base}-heading`,
    serverUrl: `${base}-server-url`,
    streamKey: `${base}-stream-key`,
    streamKeyHint: `${base}-stream-key-hint`,
    srtUrl: `${base}-srt-url`,
    srtHint: `${base}-srt-hint`,
    obsHeading: `${base}-obs`,
    resetHeading: `${base}-reset`,
    dialogHeading: `${base}-dialog-heading`,
    dialogText: `${base}-dialog-text`,
  };
}
