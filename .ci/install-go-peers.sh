#!/usr/bin/env bash
# Go-built test peers (not part of the product): the Connect conformance runner, used by
# `npm run conformance`, and grpcurl, used by test/e2e/third-party.test.ts. Idempotent: a peer
# already installed at the pinned version is left alone. Needs Go and the Go module proxy.
# Callers put "$(go env GOPATH)/bin" on PATH (this script prints that directory last).
set -euo pipefail
CONFORMANCE_VERSION=v1.0.7
GRPCURL_VERSION=v1.9.3

if ! command -v go >/dev/null; then
  echo "install-go-peers: Go is not installed (needed for connectconformance and grpcurl)" >&2
  exit 1
fi
BIN="$(go env GOPATH)/bin"
export PATH="$BIN:$PATH"

# The module version a binary was built from (go install stamps it in the binary).
have() { [ -x "$BIN/$1" ] && go version -m "$BIN/$1" | grep -qE "^\s+mod\s+$2\s+$3\s"; }

if have connectconformance connectrpc.com/conformance "$CONFORMANCE_VERSION"; then
  echo "connectconformance $CONFORMANCE_VERSION already installed"
else
  echo "installing connectconformance $CONFORMANCE_VERSION (a few minutes the first time)"
  go install "connectrpc.com/conformance/cmd/connectconformance@$CONFORMANCE_VERSION"
fi
# The runner's protos (test/conformance generates TypeScript from them) live in the module cache.
go mod download "connectrpc.com/conformance@$CONFORMANCE_VERSION"

if have grpcurl github.com/fullstorydev/grpcurl "$GRPCURL_VERSION"; then
  echo "grpcurl $GRPCURL_VERSION already installed"
else
  echo "installing grpcurl $GRPCURL_VERSION"
  go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
fi
echo "$BIN"
