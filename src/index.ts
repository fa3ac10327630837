/** oneport: one protobuf API on one port over gRPC, gRPC-Web, Connect, REST and WebSocket. */
export { createServer, type OneportServer, type ServerContext, type Feature } from "./server.js";
export { defaultLimits, resolveOptions, service, type Limits, type ServerOptions, type ServiceRegistration, type TlsOptions } from "./config.js";
export { protocolKey, Pipeline, type CallInit } from "./core/pipeline.js";
export { Registry, type RegisteredMethod } from "./core/registry.js";
export { defaultRestOptions, type RestOptions } from "./rest/options.js";
export { defaultCorsOptions, type CorsOptions } from "./http/cors.js";
export { httpStatusFromCode } from "./rest/errors.js";
export { HealthState, ServingStatus, healthService } from "./services/health.js";
export { exampleService } from "./services/example.js";
export { createChat, chatService, chatFeature, ChatRooms, defaultChatOptions, type ChatOptions } from "./services/chat.js";
export {
  Auth,
  authInterceptor,
  authorKey,
  BEARER_SUBPROTOCOL,
  DEV_CHAT_TOKENS,
  invalidToken,
  jwtVerifier,
  notMine,
  parseTokens,
  principalKey,
  staticVerifier,
  type Access,
  type AuthOptions,
  type AuthRule,
  type JwtOptions,
  type Principal,
  type ServiceTokenOptions,
  type StaticToken,
  type Verifier,
} from "./auth/index.js";
export type { Broker, Unsubscribe } from "./pubsub/broker.js";
export { MemoryBroker, type MemoryBrokerOptions } from "./pubsub/memory.js";
export { RedisBroker, type RedisBrokerOptions } from "./pubsub/redis.js";
export { createBroker, type BrokerSelection } from "./pubsub/select.js";
export { playgroundFeature, type PlaygroundOptions } from "./playground/feature.js";
export { createLogger } from "./log.js";
export { instrumentBroker, type CountingBroker } from "./observability/broker.js";
export { defaultMetricsOptions, defaultBuckets, type MetricsOptions, type TracingOptions } from "./observability/options.js";
export type { ServerMetrics } from "./observability/metrics.js";
