"""The Open Inference Protocol (KServe V2) REST formats, with Triton's binary
tensor data extension (compatibility.md §12).

``datatypes``: the one V2 <-> TensorFlow datatype table and the element
conversions of one tensor (JSON ``data`` and binary parts, both ways).
``infer``: inference request bodies to PredictRequest inputs, PredictResponse
outputs to inference response bodies. ``model``: server and model metadata,
readiness and the repository index.
"""
