"""The Open Inference Protocol (KServe V2) REST front, with Triton's binary tensor
data extension."""
