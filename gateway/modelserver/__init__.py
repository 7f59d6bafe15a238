"""The bundled ModelServer: TensorFlow Serving's gRPC API on tensorflow-cpu.

Only ``tfs-gateway modelserver`` imports this package; it is the one place in
the project that imports TensorFlow.
"""
