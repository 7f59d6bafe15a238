"""What every front shares: backends and routing, the gRPC client (the only
module that imports grpc), the signature cache, errors, and the protos."""
