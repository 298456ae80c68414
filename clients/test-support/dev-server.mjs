// Starts the real `ivs-ingest dev` (the binary named by IVS_INGEST_BIN) on a free port with a fresh data
// directory, for the client and end-to-end tests. Its stdout (the banner, which prints tokens) is discarded;
// its stderr (JSON logs, which never hold a key or token) is shown only when it fails to start.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * @typedef {{name: string, userId: string, role: string, sellerId: string | null, token: string}} DemoUser
 * @typedef {{id: string, sellerId: string, hasChannel: boolean}} DemoShow
 * @typedef {{baseUrl: string, users: DemoUser[], shows: DemoShow[]}} DemoData
 */

/**
 * @param {{env?: Record<string, string>}} [options] configuration variables for the server
 */
export async function startDevServer(options = {}) {
  const bin = process.env.IVS_INGEST_BIN;
  if (!bin) {
    throw new Error("IVS_INGEST_BIN is not set: build the binary (go build -o <path> ./cmd/ivs-ingest) and name it");
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), "ivs-ingest-clients-"));
  // A clean environment: a DATABASE_URL or limit inherited from the shell must not change what is tested.
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? dataDir,
    AWS_EC2_METADATA_DISABLED: "true",
    LOG_LEVEL: "warn",
    ...options.env,
  };
  const child = spawn(bin, ["dev", "--port", "0", "--data", dataDir], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  let running = true;
  // Should the test process die without running its after hooks, the server dies with it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void exited.then(() => {
    running = false;
    process.off("exit", killOnExit);
  });

  const stop = async () => {
    if (running) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const demo = await waitForDemo(dataDir, () => running);
    await waitHealthy(demo.baseUrl, () => running);
    return new DevServer(demo, stop, { bin, dataDir, env });
  } catch (err) {
    await stop();
    throw new Error(`ivs-ingest dev did not start: ${/** @type {Error} */ (err).message}\n--- its stderr ---\n${stderr}`);
  }
}

class DevServer {
  /**
   * @param {DemoData} demo
   * @param {() => Promise<void>} stop
   * @param {{bin: string, dataDir: string, env: Record<string, string>}} run how the server was started
   */
  constructor(demo, stop, run) {
    this.demo = demo;
    this.baseUrl = demo.baseUrl;
    this.functionsUrl = `${demo.baseUrl}/functions/v1`;
    this.stop = stop;
    /** The server's data directory (demo.json, its IVS_EVENTS_TOKEN, dev-endpoints.json). */
    this.dataDir = run.dataDir;
    this.run = run;
  }

  /**
   * Plays a broadcast on the show's channel with `ivs-ingest simulate-stream` (a child process, in the server's
   * environment): the emulator's GetStream and ListStreams follow it, and the matching IVS event is delivered to
   * the server's /functions/v1/ivs-events. Resolves with what the command printed; rejects with its stderr.
   *
   * @param {string} showId
   * @param {"start" | "starve" | "recover" | "end"} action
   */
  simulate(showId, action) {
    return new Promise((resolve, reject) => {
      execFile(
        this.run.bin,
        ["simulate-stream", "--data", this.dataDir, "--show", showId, action],
        { env: this.run.env, timeout: 30_000 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`simulate-stream ${action} failed: ${err.message}\n${stderr}`));
          else resolve(stdout);
        },
      );
    });
  }

  /** @param {string} role approved-seller, pending-seller, admin or user */
  user(role) {
    const u = this.demo.users.find((x) => x.role === role);
    if (!u) throw new Error(`demo.json has no ${role}`);
    return u;
  }

  /**
   * @param {string} role the seller's role
   * @param {boolean} hasChannel
   */
  show(role, hasChannel) {
    const seller = this.user(role).sellerId;
    const s = this.demo.shows.find((x) => x.sellerId === seller && x.hasChannel === hasChannel);
    if (!s) throw new Error(`demo.json has no show of the ${role} with hasChannel=${hasChannel}`);
    return s;
  }
}

const deadline = () => Date.now() + 60_000;

/**
 * @param {string} dir
 * @param {() => boolean} alive
 * @returns {Promise<DemoData>}
 */
async function waitForDemo(dir, alive) {
  for (const end = deadline(); Date.now() < end; await sleep(100)) {
    if (!alive()) throw new Error("it exited");
    try {
      return JSON.parse(await readFile(path.join(dir, "demo.json"), "utf8"));
    } catch {
      // not written yet
    }
  }
  throw new Error("no demo.json within 60 s");
}

/**
 * @param {string} baseUrl
 * @param {() => boolean} alive
 */
async function waitHealthy(baseUrl, alive) {
  for (const end = deadline(); Date.now() < end; await sleep(100)) {
    if (!alive()) throw new Error("it exited");
    try {
      // Each attempt is bounded: a server that accepts and never answers must not hang the tests.
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet, or no answer within 2 s
    }
  }
  throw new Error(`${baseUrl}/healthz not ready within 60 s`);
}

/** A loopback port on which nothing listens (it was free a moment ago). */
export async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  return address.port;
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
