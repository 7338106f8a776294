# Build stage: a static binary for the target platform (docker buildx sets TARGETARCH).
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Modules first, so this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

# Only the sources the binary is built from: the root package is the product (manager,
# worker, observer); the sandbox is another binary (cmd/) and is not copied.
COPY *.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/

# No cgo: runs on distroless/static. GOARCH empty (no BuildKit) means the build host's.
RUN CGO_ENABLED=0 GOOS=linux GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o streamreplay .

# Final stage: the same image runs the manager, the workers and the observer.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/streamreplay /streamreplay
USER 65532:65532
ENTRYPOINT ["/streamreplay"]
