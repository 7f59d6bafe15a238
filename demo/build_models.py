"""Rebuild the demo SavedModels in demo/models/ and the sample request bodies.

    .venv/bin/python demo/build_models.py

Writes (replacing what is there, so running it twice is harmless):
  demo/models/half_plus_two/1/   y = 0.5 * x + 2 with predict, regress and classify signatures
  demo/models/mnist/1/           an MLP trained on scikit-learn's digits in MNIST layout
  demo/digits_sample.json        {"inputs": [784 floats]} for the predict endpoint
  demo/digits_classify_sample.json  the same image as a classify request

Why the models are plain tf.Modules: only the signatures matter to a ModelServer, and a module
holding just the weights keeps the SavedModel small and loadable without Keras.

Why method names are patched after saving: tf.saved_model.save stamps every signature
"tensorflow/serving/predict". TF Serving runs classify/regress on such signatures anyway
(its method-name check is off by default), but GetModelMetadata shows the method name and the
check can be switched on. The v1 SavedModelBuilder would set them natively, but needs graph
mode and a Session, which Keras 3 no longer trains in. Editing `method_name` in saved_model.pb
touches nothing the loaders use to rebuild functions, so the TF2 object graph (for
tf.saved_model.load) and the MetaGraphDef (for TF Serving's C++ loader) both stay valid; the
fingerprint, which hashes the signature defs, is recomputed afterwards.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar, cast

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # type: ignore[import-untyped]
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import fingerprint_pb2, saved_model_pb2
from tensorflow.python.saved_model.pywrap_saved_model import (
    fingerprinting,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import digits

DEMO: Final = Path(__file__).resolve().parent
MODELS: Final = DEMO / "models"
SEED: Final = 20240501
HIDDEN: Final = 64
EPOCHS: Final = 40
SAMPLE_INDEX: Final = 0  # first held-out digit: what the samples and the client send

PREDICT: Final = "tensorflow/serving/predict"
CLASSIFY: Final = "tensorflow/serving/classify"
REGRESS: Final = "tensorflow/serving/regress"

ANY_FLOATS: Final = tf.TensorSpec(shape=None, dtype=tf.float32)
EXAMPLES: Final = tf.TensorSpec(shape=[None], dtype=tf.string)  # serialized tf.Example
IMAGES: Final = tf.TensorSpec(shape=[None, digits.PIXELS], dtype=tf.float32)

Fn = TypeVar("Fn", bound=Callable[..., dict[str, Any]])


def signature(*specs: Any) -> Callable[[Fn], Fn]:
    """tf.function with a fixed input signature; the argument names become the input aliases."""
    return cast(Callable[[Fn], Fn], tf.function(input_signature=list(specs)))


def _parse_x(serialized: tf.Tensor) -> tf.Tensor:
    """The Example feature spec of TF Serving's half_plus_two: x, FixedLenFeature([1], float)."""
    spec = {"x": tf.io.FixedLenFeature([1], tf.float32)}
    return tf.io.parse_example(serialized, spec)["x"]


class HalfPlusTwo(tf.Module):  # type: ignore[misc]
    """y = a * x + b with a = 0.5, b = 2, signatures named as in TF Serving's test model."""

    def __init__(self) -> None:
        super().__init__()
        self.a = tf.Variable(0.5, trainable=False)
        self.b = tf.Variable(2.0, trainable=False)

    # Any shape: `{"instances": [1.0, 2.0]}` (shape [2]) and `{"inputs": {"x": [[1.0]]}}`
    # (shape [1, 1]) both work, as with TF Serving's own half_plus_two.
    @signature(ANY_FLOATS)
    def predict(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": self.a * x + self.b}

    @signature(EXAMPLES)
    def regress(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"outputs": self.a * _parse_x(inputs) + self.b}

    @signature(EXAMPLES)
    def classify(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": self.a * _parse_x(inputs) + self.b}


class Mnist(tf.Module):  # type: ignore[misc]
    """Dense(64, relu) -> Dense(10, softmax) over 784 pixels, weights copied from Keras."""

    def __init__(self, weights: list[np.ndarray]) -> None:
        super().__init__()
        w1, b1, w2, b2 = weights
        self.w1 = tf.Variable(w1, trainable=False)
        self.b1 = tf.Variable(b1, trainable=False)
        self.w2 = tf.Variable(w2, trainable=False)
        self.b2 = tf.Variable(b2, trainable=False)
        self.labels = tf.constant([str(d) for d in range(digits.CLASSES)])

    def _scores(self, images: tf.Tensor) -> tf.Tensor:
        hidden = tf.nn.relu(tf.matmul(images, self.w1) + self.b1)
        return tf.nn.softmax(tf.matmul(hidden, self.w2) + self.b2)

    # One output, so the REST answer is unwrapped: {"outputs": [[10 scores]]}.
    @signature(IMAGES)
    def predict(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": self._scores(images)}

    @signature(IMAGES)
    def predict_classes(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        scores = self._scores(images)
        return {"scores": scores, "classes": tf.argmax(scores, axis=1, output_type=tf.int64)}

    # TF Serving's Classify feeds serialized tf.Examples to the input aliased "inputs" and
    # reads "classes" (DT_STRING) and "scores" (DT_FLOAT), both [batch, num_classes].
    @signature(EXAMPLES)
    def classify(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        spec = {"image": tf.io.FixedLenFeature([digits.PIXELS], tf.float32)}
        scores = self._scores(tf.io.parse_example(inputs, spec)["image"])
        return {"classes": tf.broadcast_to(self.labels, tf.shape(scores)), "scores": scores}


def set_method_names(export_dir: Path, methods: Mapping[str, str]) -> None:
    """Rewrite the method_name of the named signatures, then refresh fingerprint.pb."""
    pb_path = export_dir / "saved_model.pb"
    model = saved_model_pb2.SavedModel.FromString(pb_path.read_bytes())
    for meta_graph in model.meta_graphs:
        for key, method in methods.items():
            # Indexing a proto map inserts missing keys; a typo must not add a signature.
            if key not in meta_graph.signature_def:
                raise KeyError(f"{export_dir}: no signature {key!r}")
            meta_graph.signature_def[key].method_name = method
    pb_path.write_bytes(model.SerializeToString(deterministic=True))
    fingerprint = fingerprint_pb2.FingerprintDef.FromString(
        fingerprinting.CreateFingerprintDef(str(export_dir))
    )
    # TF puts a random uuid in every fingerprint; one derived from the content instead keeps
    # a rebuild of unchanged models free of diffs.
    fingerprint.uuid = str(int.from_bytes(_content_digest(export_dir)[:16], "big"))
    (export_dir / "fingerprint.pb").write_bytes(fingerprint.SerializeToString(deterministic=True))


def _content_digest(export_dir: Path) -> bytes:
    digest = hashlib.sha256()
    for path in sorted(p for p in export_dir.rglob("*") if p.is_file()):
        if path.name != "fingerprint.pb":
            digest.update(path.relative_to(export_dir).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.digest()


def save(
    module: tf.Module, signatures: dict[str, Any], methods: Mapping[str, str], name: str
) -> Path:
    """Save version 1 of `name` into a scratch directory, then swap it into place."""
    target = MODELS / name / "1"
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    export_dir = scratch / "1"
    tf.saved_model.save(module, str(export_dir), signatures=signatures)
    set_method_names(export_dir, methods)
    shutil.rmtree(target, ignore_errors=True)
    export_dir.rename(target)
    scratch.rmdir()
    return target


def build_half_plus_two() -> Path:
    module = HalfPlusTwo()
    signatures = {
        "serving_default": module.predict,
        "regress_x_to_y": module.regress,
        "classify_x_to_y": module.classify,
    }
    methods = {"regress_x_to_y": REGRESS, "classify_x_to_y": CLASSIFY}
    return save(module, signatures, methods, "half_plus_two")


def train_mlp(x_train: np.ndarray, y_train: np.ndarray) -> keras.Model:
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    model = keras.Sequential(
        [
            keras.Input(shape=(digits.PIXELS,)),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(digits.CLASSES, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, shuffle=True, verbose=0)
    return model


def build_mnist() -> tuple[Path, float]:
    x_train, x_test, y_train, y_test = digits.split()
    mlp = train_mlp(x_train, y_train)
    module = Mnist([np.asarray(w) for w in mlp.get_weights()])
    scores = module.predict(tf.constant(x_test))["scores"].numpy()
    accuracy = float(np.mean(np.argmax(scores, axis=1) == y_test))
    signatures = {
        "serving_default": module.predict,
        "predict_classes": module.predict_classes,
        "classify": module.classify,
    }
    path = save(module, signatures, {"classify": CLASSIFY}, "mnist")
    return path, accuracy


def write_samples() -> int:
    """Request bodies for curl; floats stay floats (`0.0`) so classify builds float features."""
    _, x_test, _, y_test = digits.split()
    vector = [float(v) for v in np.round(x_test[SAMPLE_INDEX].astype(np.float64), 6)]
    predict = {"inputs": [vector]}
    classify = {"signature_name": "classify", "examples": [{"image": vector}]}
    (DEMO / "digits_sample.json").write_text(json.dumps(predict) + "\n")
    (DEMO / "digits_classify_sample.json").write_text(json.dumps(classify) + "\n")
    return int(y_test[SAMPLE_INDEX])


def tree_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> int:
    half = build_half_plus_two()
    mnist, accuracy = build_mnist()
    label = write_samples()
    print(f"{half}: {tree_size(half)} bytes")
    print(f"{mnist}: {tree_size(mnist)} bytes, held-out accuracy {accuracy:.4f}")
    print(f"samples: digits_sample.json, digits_classify_sample.json (true label {label})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
