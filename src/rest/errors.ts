import { create, createRegistry, toJson, type Registry as TypeRegistry } from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";

/** The HTTP status for each gRPC code: the table grpc-gateway uses (runtime.HTTPStatusFromCode). */
export const httpStatusFromCode: Readonly<Record<Code, number>> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** google.rpc.Status in the proto3 JSON mapping. */
export interface StatusJson {
  code: number;
  message: string;
  details: unknown[];
}

/**
 * Renders an error as google.rpc.Status JSON. Details are rendered as Any in JSON when their type
 * is known to the registry; unknown ones keep their bytes in base64 (`value`), as Any's JSON does
 * for types a reader cannot resolve. Causes and stacks never reach the client.
 */
export function statusJson(err: ConnectError, types: TypeRegistry): StatusJson {
  const details: unknown[] = [];
  for (const d of err.details) {
    try {
      if ("desc" in d) details.push(toJson(AnySchema, anyPack(d.desc, create(d.desc, d.value)), { registry: createRegistry(types, d.desc) }));
      else details.push(toJson(AnySchema, create(AnySchema, { typeUrl: `type.googleapis.com/${d.type}`, value: d.value }), { registry: types }));
    } catch {
      const typeUrl = "desc" in d ? `type.googleapis.com/${d.desc.typeName}` : `type.googleapis.com/${d.type}`;
      details.push({ "@type": typeUrl, value: "desc" in d ? "" : Buffer.from(d.value).toString("base64") });
    }
  }
  return { code: err.code, message: err.rawMessage, details };
}

/** A REST-level error (bad path, query, body...) as a ConnectError with an explicit HTTP status. */
export class RestError extends ConnectError {
  constructor(
    message: string,
    code: Code,
    readonly httpStatus: number = httpStatusFromCode[code],
    readonly headers: Record<string, string> = {},
  ) {
    super(message, code);
  }
}

/** Whether an error is a RestError (ConnectError's Symbol.hasInstance makes `instanceof` match any ConnectError). */
export function isRestError(err: unknown): err is RestError {
  return err instanceof ConnectError && typeof (err as Partial<RestError>).httpStatus === "number";
}

/** The HTTP status of any error thrown by a call or by the transcoder. */
export function httpStatusOf(err: ConnectError): number {
  return isRestError(err) ? err.httpStatus : httpStatusFromCode[err.code] ?? 500;
}
