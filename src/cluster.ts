import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import { serveRelay } from "./pubsub/cluster-relay.js";
import { MemoryBroker } from "./pubsub/memory.js";

/** Options of the cluster primary. */
export interface PrimaryOptions {
  /** Worker processes to keep running. */
  workers: number;
  logger: Logger;
  /** The workers' whole shutdown (delay and grace period); the primary gives them this plus `killAfterMs` before SIGKILL. */
  shutdownTimeoutMs: number;
  /** Relay broker traffic between workers through the primary (when there is no Redis). */
  relay: boolean;
  /** Extra time after the grace period before stragglers are killed (default 5000). */
  killAfterMs?: number;
}

/** Messages between primary and workers (besides the broker relay's). */
type Control = { oneport: "listening"; port: number } | { oneport: "shutdown" };

/** Crash-loop guard: the n-th crash within a minute waits 100 ms x 2^(n-1), at most 30 s, before the replacement. */
export function restartDelayMs(recentCrashes: number): number {
  return recentCrashes <= 1 ? 0 : Math.min(30_000, 100 * 2 ** (recentCrashes - 1));
}

/**
 * Runs the node:cluster primary: forks `workers` copies of this program, which all listen on the
 * same port (the primary accepts connections and hands them out round-robin), replaces a worker
 * that dies, and on SIGTERM/SIGINT tells every worker to drain, then exits 0 once all have.
 * Never returns: the process exits when the cluster is done.
 */
export function runPrimary(opts: PrimaryOptions): Promise<never> {
  const { logger } = opts;
  // Advanced serialization carries broker payloads as bytes instead of JSON arrays of numbers.
  cluster.setupPrimary({ serialization: "advanced" });
  const hub = opts.relay ? new MemoryBroker() : undefined;
  const detach = new Map<Worker, () => void>();
  const crashes: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let everListening = false;
  let stopping = false;
  let failed = false;
  let readyReported = false;
  const listening = new Set<number>();
  const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());

  const fork = () => {
    const worker = cluster.fork({ ONEPORT_WORKER: "1" });
    if (hub) detach.set(worker, serveRelay(hub, worker));
    worker.on("message", (m: Control) => {
      if (m?.oneport !== "listening") return;
      everListening = true;
      listening.add(worker.id);
      logger.info({ worker: worker.id, pid: worker.process.pid, port: m.port }, "worker listening");
      if (!readyReported && listening.size === opts.workers) {
        readyReported = true;
        logger.info({ workers: opts.workers, port: m.port, broker: opts.relay ? "cluster-relay" : "redis" }, "cluster is ready");
      }
    });
  };

  const finish = (code: number): never => {
    for (const t of timers) clearTimeout(t);
    logger.info({ code }, "cluster stopped");
    process.exit(code);
  };

  cluster.on("exit", (worker, code, signal) => {
    detach.get(worker)?.();
    detach.delete(worker);
    listening.delete(worker.id);
    if (code !== 0 && !stopping) failed ||= !everListening;
    if (stopping || failed) {
      if (code !== 0 || signal) failed = true;
      if (live().length === 0) finish(failed ? 1 : 0);
      if (!stopping) stop("a worker failed to start; see its log above");
      return;
    }
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && crashes[0]! < now - 60_000) crashes.shift();
    const delay = restartDelayMs(crashes.length);
    logger.warn({ worker: worker.id, pid: worker.process.pid, code, signal, restartInMs: delay }, "worker exited; starting a replacement");
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopping) fork();
    }, delay);
    timers.add(t);
  });

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    for (const t of timers) clearTimeout(t);
    const workers = live();
    logger.info({ reason, workers: workers.length }, "draining workers");
    if (workers.length === 0) finish(failed ? 1 : 0);
    for (const w of workers) if (w.isConnected()) w.send({ oneport: "shutdown" } satisfies Control);
    const kill = setTimeout(() => {
      failed = true;
      for (const w of live()) {
        logger.error({ worker: w.id, pid: w.process.pid }, "worker did not stop in time; killing it");
        w.process.kill("SIGKILL");
      }
    }, opts.shutdownTimeoutMs + (opts.killAfterMs ?? 5000));
    kill.unref();
    timers.add(kill);
  };

  let signals = 0;
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
      if (++signals > 1) {
        logger.warn({ signal: sig }, "second signal: killing the workers now");
        for (const w of live()) w.process.kill("SIGKILL");
        process.exit(1);
      }
      stop(sig);
    });
  }

  logger.info({ workers: opts.workers, pid: process.pid }, "cluster primary starting workers");
  for (let i = 0; i < opts.workers; i++) fork();
  return new Promise<never>(() => {});
}

/** True in a process forked by runPrimary(). */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** In a worker: tells the primary the port is served (the primary logs when all are). */
export function reportListening(port: number): void {
  if (cluster.isWorker && process.connected) process.send!({ oneport: "listening", port } satisfies Control);
}

/**
 * In a worker: calls `stop` when the primary asks to drain or goes away. Ctrl-C reaches every
 * process of the group, so workers ignore SIGINT and let the primary coordinate the shutdown.
 */
export function onPrimaryShutdown(stop: (reason: string) => void): void {
  if (!cluster.isWorker) return;
  process.on("message", (m: Control) => {
    if (m?.oneport === "shutdown") stop("primary asked to drain");
  });
  process.on("disconnect", () => stop("primary went away"));
  process.removeAllListeners("SIGINT");
  process.on("SIGINT", () => {});
}

/** This worker's id (1, 2, ...), or undefined outside a cluster. */
export function workerId(): number | undefined {
  return cluster.worker?.id;
}
