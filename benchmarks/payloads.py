"""The request bodies and response tensors every benchmark uses, built deterministically.

Numbers are written the way clients usually produce them: ``ndarray.tolist()``
of float32 data through a JSON library, so each value carries the full
float64 repr of a float32 (up to ~20 characters), and MNIST pixels are mostly
exact zeros.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

SEED = 20240501
DT_FLOAT = 1
DT_STRING = 7


@dataclass(frozen=True, slots=True)
class RequestCase:
    """One JSON body, the signature input dtypes it is converted against."""

    name: str
    body: bytes
    input_dtypes: dict[str, int]


def _rng(salt: int) -> np.random.Generator:
    return np.random.default_rng(SEED + salt)


def mnist_pixels(rows: int, salt: int = 0) -> np.ndarray:
    """Rows of 784 float32 pixels in [0, 1], about 80% exact zeros like MNIST digits."""
    rng = _rng(salt)
    values = rng.integers(0, 256, size=(rows, 784)).astype(np.float32) / np.float32(255)
    values[rng.random((rows, 784)) < 0.8] = 0.0
    return values


def image_pixels() -> np.ndarray:
    """One 224x224x3 float32 image in [0, 1), shape [1, 224, 224, 3]."""
    return _rng(3).random((1, 224, 224, 3), dtype=np.float32)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def request_cases() -> list[RequestCase]:
    mnist = {"images": DT_FLOAT}
    image = image_pixels()
    blobs = [base64.b64encode(_rng(4 + i).bytes(1024)).decode() for i in range(32)]
    return [
        RequestCase("mnist 1x784 instances", dumps({"instances": mnist_pixels(1)}), mnist),
        RequestCase("mnist 1x784 inputs", dumps({"inputs": {"images": mnist_pixels(1)}}), mnist),
        RequestCase("mnist 64x784", dumps({"instances": mnist_pixels(64, 1)}), mnist),
        RequestCase("mnist 1000x784", dumps({"instances": mnist_pixels(1000, 2)}), mnist),
        RequestCase("image 224x224x3 float", dumps({"instances": image}), {"image": DT_FLOAT}),
        RequestCase(
            "32 b64 strings (1 KiB)",
            dumps({"instances": [{"b64": b} for b in blobs]}),
            {"image_bytes": DT_STRING},
        ),
    ]


def scores(rows: int, cols: int, salt: int = 0) -> np.ndarray:
    """Softmax-like float32 scores: most need 9 significant digits in TF Serving's text."""
    logits = _rng(10 + salt).standard_normal((rows, cols)).astype(np.float32)
    exp = np.exp(logits)
    out: np.ndarray = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def response_arrays() -> dict[str, np.ndarray]:
    return {
        "1x10 float32": scores(1, 10, 2),  # one MNIST answer
        "1000x10 float32": scores(1000, 10),
        "1x100000 float32": scores(1, 100000, 1),
    }


def tensor_proto(array: np.ndarray, tensor_content: bool, message: Any) -> Any:
    """A float32 TensorProto as the ModelServer sends it: typed float_val by default."""
    message.dtype = DT_FLOAT
    for size in array.shape:
        message.tensor_shape.dim.add(size=size)
    if tensor_content:
        message.tensor_content = np.ascontiguousarray(array, dtype="<f4").tobytes()
    else:
        message.float_val.extend(array.ravel().tolist())
    return message
