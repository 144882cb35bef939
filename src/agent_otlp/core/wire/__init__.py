"""The wire: span records encoded to OTLP protobuf (``encode``), OTLP messages and their JSON
form (``messages``) and the transports that send them (``transport``: the interface and
OTLP/HTTP; ``grpc_transport``: OTLP/gRPC; ``otel_sdk``: through opentelemetry-exporter-otlp)."""
