"""The shipped demo SavedModels: signatures, arithmetic, accuracy, classify/predict agreement.

These load demo/models with TensorFlow directly, both the TF2 way (tf.saved_model.load) and
the way TF Serving's C++ loader sees them (a v1 Session running the signature's tensor names).
"""

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from string import Template
from types import ModuleType
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import fingerprint_pb2, saved_model_pb2
from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting
from tensorflow_serving.config import model_server_config_pb2  # type: ignore[import-untyped]

DEMO = Path(__file__).resolve().parent.parent / "demo"
HALF = DEMO / "models" / "half_plus_two" / "1"
MNIST = DEMO / "models" / "mnist" / "1"
PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"
F, S, I64 = tf.float32.as_datatype_enum, tf.string.as_datatype_enum, tf.int64.as_datatype_enum
UNKNOWN = None  # unknown rank

# signature -> (method_name, {input alias: (dtype, shape)}, {output alias: (dtype, shape)})
SignatureTable = dict[str, tuple[str, dict[str, Any], dict[str, Any]]]
HALF_SIGNATURES: SignatureTable = {
    "serving_default": (PREDICT, {"x": (F, UNKNOWN)}, {"y": (F, UNKNOWN)}),
    "regress_x_to_y": (REGRESS, {"inputs": (S, [-1])}, {"outputs": (F, [-1, 1])}),
    "classify_x_to_y": (CLASSIFY, {"inputs": (S, [-1])}, {"scores": (F, [-1, 1])}),
}
MNIST_SIGNATURES: SignatureTable = {
    "serving_default": (PREDICT, {"images": (F, [-1, 784])}, {"scores": (F, [-1, 10])}),
    "predict_classes": (
        PREDICT,
        {"images": (F, [-1, 784])},
        {"scores": (F, [-1, 10]), "classes": (I64, [-1])},
    ),
    "classify": (
        CLASSIFY,
        {"inputs": (S, [-1])},
        {"classes": (S, [-1, 10]), "scores": (F, [-1, 10])},
    ),
}


def _load_digits_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_digits", DEMO / "digits.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


digits = _load_digits_module()


@pytest.fixture(scope="module")
def half() -> Any:
    return tf.saved_model.load(str(HALF))


@pytest.fixture(scope="module")
def mnist() -> Any:
    return tf.saved_model.load(str(MNIST))


@pytest.fixture(scope="module")
def holdout() -> tuple[np.ndarray, np.ndarray]:
    _, x_test, _, y_test = digits.split()
    return x_test, y_test


def _signature_table(export_dir: Path) -> SignatureTable:
    """The MetaGraphDef's signatures, as TF Serving's GetModelMetadata reports them."""
    model = saved_model_pb2.SavedModel.FromString((export_dir / "saved_model.pb").read_bytes())
    (meta_graph,) = model.meta_graphs

    def infos(tensors: Any) -> dict[str, Any]:
        return {
            alias: (
                info.dtype,
                None if info.tensor_shape.unknown_rank else [d.size for d in info.tensor_shape.dim],
            )
            for alias, info in tensors.items()
        }

    return {
        key: (sig.method_name, infos(sig.inputs), infos(sig.outputs))
        for key, sig in meta_graph.signature_def.items()
        if key != "__saved_model_init_op"
    }


def _examples(feature: str, rows: np.ndarray) -> list[bytes]:
    """Serialized tf.Examples with one float feature, as a REST classify request builds them."""
    return [
        tf.train.Example(
            features=tf.train.Features(
                feature={feature: tf.train.Feature(float_list=tf.train.FloatList(value=list(row)))}
            )
        ).SerializeToString()
        for row in rows
    ]


@pytest.mark.parametrize(
    ("export_dir", "expected"), [(HALF, HALF_SIGNATURES), (MNIST, MNIST_SIGNATURES)]
)
def test_signatures_match_the_documented_table(export_dir: Path, expected: SignatureTable) -> None:
    assert _signature_table(export_dir) == expected


@pytest.mark.parametrize("export_dir", [HALF, MNIST])
def test_fingerprint_is_current(export_dir: Path) -> None:
    """The method names are patched after saving; the fingerprint must hash the patched file."""
    stored = fingerprint_pb2.FingerprintDef.FromString((export_dir / "fingerprint.pb").read_bytes())
    fresh = fingerprint_pb2.FingerprintDef.FromString(
        fingerprinting.CreateFingerprintDef(str(export_dir))
    )
    stored.ClearField("uuid")
    fresh.ClearField("uuid")
    assert stored == fresh


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([1.0, 2.0, 5.0], [2.5, 3.0, 4.5]),  # {"instances": [1.0, 2.0, 5.0]}
        ([[1.0]], [[2.5]]),  # {"inputs": {"x": [[1.0]]}}
        (-4.0, 0.0),
    ],
)
def test_half_plus_two_predict(half: Any, x: Any, y: Any) -> None:
    out = half.signatures["serving_default"](x=tf.constant(x, tf.float32))["y"]
    np.testing.assert_allclose(out.numpy(), np.array(y, np.float32))


@pytest.mark.parametrize(
    ("signature", "alias"), [("regress_x_to_y", "outputs"), ("classify_x_to_y", "scores")]
)
def test_half_plus_two_on_examples(half: Any, signature: str, alias: str) -> None:
    serialized = _examples("x", np.array([[1.0], [3.0]], np.float32))
    out = half.signatures[signature](inputs=tf.constant(serialized))[alias]
    np.testing.assert_allclose(out.numpy(), [[2.5], [3.5]])


def test_mnist_holdout_accuracy(mnist: Any, holdout: tuple[np.ndarray, np.ndarray]) -> None:
    x_test, y_test = holdout
    scores = mnist.signatures["serving_default"](images=tf.constant(x_test))["scores"].numpy()
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(scores.argmax(axis=1) == y_test) > 0.85


def test_mnist_signatures_agree(mnist: Any, holdout: tuple[np.ndarray, np.ndarray]) -> None:
    images = holdout[0][:50]
    scores = mnist.signatures["serving_default"](images=tf.constant(images))["scores"].numpy()
    both = mnist.signatures["predict_classes"](images=tf.constant(images))
    classified = mnist.signatures["classify"](inputs=tf.constant(_examples("image", images)))
    np.testing.assert_allclose(both["scores"].numpy(), scores, rtol=1e-6)
    np.testing.assert_array_equal(both["classes"].numpy(), scores.argmax(axis=1))
    np.testing.assert_allclose(classified["scores"].numpy(), scores, rtol=1e-5, atol=1e-7)
    labels = [str(d).encode() for d in range(10)]
    assert classified["classes"].numpy().tolist() == [labels] * len(images)


def test_classify_through_a_v1_session(holdout: tuple[np.ndarray, np.ndarray]) -> None:
    """TF Serving's path: load the MetaGraphDef into a Session and run by tensor name."""
    images = holdout[0][:5]
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(MNIST))
        signature = meta.signature_def["classify"]
        fetches = {alias: info.name for alias, info in signature.outputs.items()}
        feed = {signature.inputs["inputs"].name: _examples("image", images)}
        out = session.run(fetches, feed_dict=feed)
        served = meta.signature_def["serving_default"]
        expected = session.run(
            served.outputs["scores"].name, {served.inputs["images"].name: images}
        )
    np.testing.assert_allclose(out["scores"], expected, rtol=1e-5, atol=1e-7)
    assert out["classes"][0].tolist() == [str(d).encode() for d in range(10)]


def test_half_plus_two_through_a_v1_session() -> None:
    """The unknown-rank input takes a row-format scalar list in TF Serving's Session path."""
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(HALF))
        signature = meta.signature_def["serving_default"]
        feed = {signature.inputs["x"].name: np.array([1.0, 2.0, 5.0], np.float32)}
        y = session.run(signature.outputs["y"].name, feed_dict=feed)
    np.testing.assert_allclose(y, [2.5, 3.0, 4.5])


def test_models_config_template_names_both_models(tmp_path: Path) -> None:
    text = Template((DEMO / "models.config.in").read_text())
    config = text_format.Parse(
        text.substitute(DEMO_MODELS=str(DEMO / "models")),
        model_server_config_pb2.ModelServerConfig(),
    )
    models = {c.name: Path(c.base_path) for c in config.model_config_list.config}
    assert models == {"half_plus_two": HALF.parent, "mnist": MNIST.parent}
    assert all(c.model_platform == "tensorflow" for c in config.model_config_list.config)


@pytest.fixture(scope="module")
def sample_bodies() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    def no_integers(token: str) -> Any:
        raise AssertionError(f"integer token {token}: classify would build an int64 feature")

    predict = json.loads((DEMO / "digits_sample.json").read_text(), parse_int=no_integers)
    classify = json.loads((DEMO / "digits_classify_sample.json").read_text(), parse_int=no_integers)
    yield predict, classify


def test_sample_bodies_hold_a_recognised_digit(
    mnist: Any,
    holdout: tuple[np.ndarray, np.ndarray],
    sample_bodies: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    predict, classify = sample_bodies
    (vector,) = predict["inputs"]
    assert classify == {"signature_name": "classify", "examples": [{"image": vector}]}
    np.testing.assert_allclose(vector, holdout[0][0], atol=1e-6)
    images = tf.constant([vector], tf.float32)
    scores = mnist.signatures["serving_default"](images=images)["scores"].numpy()
    assert int(scores.argmax()) == int(holdout[1][0])


def test_client_knows_the_samples_label(holdout: tuple[np.ndarray, np.ndarray]) -> None:
    """demo/client.py sends the sample without scikit-learn; its label is a constant."""
    spec = importlib.util.spec_from_file_location("demo_client", DEMO / "client.py")
    assert spec is not None and spec.loader is not None
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    image, label = client.sample_image()
    assert label == int(holdout[1][0]) and image.shape == (28, 28)
    np.testing.assert_allclose(image.reshape(-1), holdout[0][0], atol=1e-6)
