// Opens ATTACK_CONNS idle connections to 127.0.0.1:ATTACK_PORT from its own process (its own file
// descriptors): half send nothing, half are HTTP/2 sessions (preface + SETTINGS, acknowledged) that
// never open a stream. Prints {"open": N} once all are up; closes them all and exits on stdin EOF.
import * as net from "node:net";

const port = Number(process.env.ATTACK_PORT);
const total = Number(process.env.ATTACK_CONNS ?? 10_000);
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
const SETTINGS_ACK = Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]);
const sockets: net.Socket[] = [];
let closedEarly = 0;

function open(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => {
      if (i % 2 === 1) s.write(Buffer.concat([PREFACE, SETTINGS]));
      resolve();
    });
    // The server's SETTINGS are acknowledged once, as any HTTP/2 client does; nothing else is read.
    if (i % 2 === 1) s.once("data", () => s.write(SETTINGS_ACK));
    s.on("error", () => {});
    s.once("close", () => closedEarly++);
    s.once("error", reject);
    sockets.push(s);
  });
}

for (let i = 0; i < total; i += 500) {
  await Promise.all(Array.from({ length: Math.min(500, total - i) }, (_, j) => open(i + j)));
}
process.stdout.write(JSON.stringify({ open: sockets.length, closedEarly }) + "\n");
process.stdin.resume();
process.stdin.on("end", () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
