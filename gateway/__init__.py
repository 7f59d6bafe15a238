"""tfs-gateway: TensorFlow Serving's REST API in front of any ModelServer over gRPC."""

__version__ = "0.1.0"
