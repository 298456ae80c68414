// Compiled, never run (tsconfig.check.json): both kinds of client the package documents must be accepted
// without casts, and results must narrow on `error`.
import { FunctionsClient } from "@supabase/functions-js";
import { createClient } from "@supabase/supabase-js";
import { getIngestDetails, getAuditLog, type IngestDetails, type IngestError } from "../src/index.js";

export async function compat(): Promise<void> {
  const supabase = createClient("https://project.supabase.co", "anon-key");
  const selfHosted = new FunctionsClient("https://ingest.example.com/functions/v1", {
    headers: { Authorization: "Bearer token" },
  });
  const a = await getIngestDetails(supabase, "show", { impersonateSellerId: "seller" });
  const b = await getIngestDetails(selfHosted, "show", { timeoutMs: 10_000, signal: new AbortController().signal });
  const c = await getAuditLog(supabase.functions, { limit: 5 });
  if (a.error === null) {
    const d: IngestDetails = a.data;
    void d;
  } else {
    const e: IngestError = a.error;
    const status: number | null = e.status;
    void status;
  }
  void b;
  void c;
}
