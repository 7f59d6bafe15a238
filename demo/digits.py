"""scikit-learn's bundled digits, reshaped to look like MNIST.

The digits dataset (1797 images, 8x8, values 0..16) ships inside scikit-learn, so the demo
needs no download. MNIST draws each digit inside a 20x20 box centred in a 28x28 frame, with
values in [0, 1]; `mnist_images` does the same: bilinear resize 8x8 -> 20x20, a 4-pixel
border, divide by 16. The build script, the client and the tests share this module so that
the model sees the same pixels at training and at serving time. No TensorFlow here: the
client runs without it.
"""

from typing import Final

import numpy as np
import numpy.typing as npt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

IMAGE_SIDE: Final = 28
BOX_SIDE: Final = 20
PIXELS: Final = IMAGE_SIDE * IMAGE_SIDE
CLASSES: Final = 10
# The split is part of the model's contract: the test recomputes the held-out accuracy.
HOLDOUT_FRACTION: Final = 0.2
SPLIT_SEED: Final = 0

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def _bilinear_matrix(src: int, dst: int) -> FloatArray:
    """(dst, src) matrix that resamples one axis with pixel-centre-aligned bilinear weights."""
    weights = np.zeros((dst, src), dtype=np.float32)
    centres = np.clip((np.arange(dst) + 0.5) * src / dst - 0.5, 0.0, src - 1.0)
    low = np.floor(centres).astype(np.int64)
    high = np.minimum(low + 1, src - 1)
    frac = (centres - low).astype(np.float32)
    rows = np.arange(dst)
    np.add.at(weights, (rows, low), 1.0 - frac)
    np.add.at(weights, (rows, high), frac)
    return weights


def mnist_images(digits_8x8: npt.NDArray[np.floating]) -> FloatArray:
    """(n, 8, 8) values 0..16 -> (n, 28, 28) float32 values in [0, 1], MNIST layout."""
    resize = _bilinear_matrix(8, BOX_SIDE)
    boxes = np.einsum("ij,njk,lk->nil", resize, digits_8x8.astype(np.float32) / 16.0, resize)
    pad = (IMAGE_SIDE - BOX_SIDE) // 2
    framed: FloatArray = np.pad(boxes, ((0, 0), (pad, pad), (pad, pad)))
    return np.clip(framed, 0.0, 1.0).astype(np.float32)


def load() -> tuple[FloatArray, IntArray]:
    """All 1797 digits as (n, 28, 28) images and their labels."""
    bunch = load_digits()
    return mnist_images(bunch.images), bunch.target.astype(np.int64)


def split() -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Flattened (n, 784) train/held-out images and labels: x_train, x_test, y_train, y_test."""
    images, labels = load()
    flat = images.reshape(len(images), PIXELS)
    parts = train_test_split(
        flat, labels, test_size=HOLDOUT_FRACTION, random_state=SPLIT_SEED, stratify=labels
    )
    x_train, x_test, y_train, y_test = parts
    return x_train, x_test, y_train, y_test
