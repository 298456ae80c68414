/**
 * React "Go live" panel for ivs-ingest. Import the stylesheet once: `import "@ivs-ingest/react/styles.css"`.
 *
 * @packageDocumentation
 */
export {
  IngestClientProvider,
  IngestDetailsPanel,
  describeError,
  useIngestClient,
  type IngestDetailsPanelProps,
} from "./IngestDetailsPanel.js";
