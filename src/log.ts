import { pino, type Logger } from "pino";

/** Creates the structured logger (JSON lines on stdout). */
export function createLogger(level: string = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { name: "oneport" } });
}

/** A logger that drops everything; the default for library users who pass none. */
export const silentLogger: Logger = pino({ level: "silent" });
