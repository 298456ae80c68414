// The example page: a Supabase app's seller dashboard reduced to the panel. It calls ivs-ingest at
// `supabaseUrl` (a Supabase project serving it at /functions/v1, or `ivs-ingest dev`) as the seller whose
// access token it is given: by the host page in window.ivsIngestExample, or in the URL's fragment for a quick
// manual try (`#supabaseUrl=http://127.0.0.1:8080&accessToken=<token>&showId=<uuid>`, tokens from demo.json).
import { createClient } from "@supabase/supabase-js";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { IngestClientProvider, IngestDetailsPanel } from "@ivs-ingest/react";
import "@ivs-ingest/react/styles.css";

interface ExampleConfig {
  supabaseUrl: string;
  accessToken: string;
  showId: string;
  /** The panel's timeoutMs; the client's default when absent. */
  timeoutMs?: number;
  /** The panel's statusIntervalMs and statusErrorIntervalMs; the panel's defaults (10 s, 60 s) when absent. */
  statusIntervalMs?: number;
  statusErrorIntervalMs?: number;
}

declare global {
  interface Window {
    ivsIngestExample?: ExampleConfig;
  }
}

function configFromFragment(): ExampleConfig | null {
  const p = new URLSearchParams(location.hash.slice(1));
  const supabaseUrl = p.get("supabaseUrl");
  const accessToken = p.get("accessToken");
  const showId = p.get("showId");
  return supabaseUrl && accessToken && showId ? { supabaseUrl, accessToken, showId } : null;
}

const config = window.ivsIngestExample ?? configFromFragment();
const root = createRoot(document.getElementById("root")!);

if (!config) {
  root.render(<p>Open this page with #supabaseUrl=…&amp;accessToken=…&amp;showId=… (see demo.json of ivs-ingest dev).</p>);
} else {
  // One client for the page's life. The anon key is not checked by ivs-ingest; a real app passes its own.
  const supabase = createClient(config.supabaseUrl, "example-anon-key", {
    accessToken: async () => config.accessToken,
  });
  root.render(
    <StrictMode>
      <IngestClientProvider client={supabase}>
        <IngestDetailsPanel
          showId={config.showId}
          title="Go live: Spring collection show"
          timeoutMs={config.timeoutMs}
          statusIntervalMs={config.statusIntervalMs}
          statusErrorIntervalMs={config.statusErrorIntervalMs}
        />
      </IngestClientProvider>
    </StrictMode>,
  );
}
