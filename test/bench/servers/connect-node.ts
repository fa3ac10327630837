// A bare connectNodeAdapter with the same service; argv[2] "h2" (http2.createServer) or "h1" (http).
import * as http from "node:http";
import * as http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { exampleService } from "../../../src/services/example.js";
import { announce } from "./common.js";

const reg = exampleService();
const adapter = connectNodeAdapter({ routes: (r) => r.service(reg.service, reg.impl) });
announce(process.argv[2] === "h1" ? http.createServer(adapter) : http2.createServer(adapter));
