/**
 * React "Go live" panel for ivs-ingest. Import the stylesheet once: `import "@ivs-ingest/react/styles.css"`.
 *
 * @packageDocumentation
 */
export {
  DEFAULT_STATUS_ERROR_INTERVAL_MS,
  DEFAULT_STATUS_INTERVAL_MS,
  IngestClientProvider,
  IngestDetailsPanel,
  StreamStatusIndicator,
  describeError,
  describeStreamStatus,
  useIngestClient,
  type IngestDetailsPanelProps,
  type StreamStatusIndicatorProps,
} from "./IngestDetailsPanel.js";
