"""Build the project's test SavedModels into DEST (imports TensorFlow: run it as a command).

    python -m tests.models.build DEST

Writes DEST/<directory>/<version>/ for the five models below and DEST/models.config
(``tests.models.config_text``). The tree is built beside DEST and renamed into place; if
DEST already exists (another build won the race) the new tree is dropped.

The models reproduce the behaviour of TF Serving's own test models, which the tests
were first written against: the same signature keys, method names, tensor names, dtypes
and shapes, and the same arithmetic.

* half_plus_two (TF1 graph, SavedModelBuilder, so classify and regress method names are
  native): y = 0.5x + 2, y2 = 0.5x + 3, y3 = 0.5x2 + 3. ``tf_example`` is a string
  placeholder parsed with x: FixedLenFeature([1], float32) required and x2 with default 0;
  predict feeds ``x:0`` (or ``x2:0``) directly, past the parser. Two trees: one version
  for ``default``, and versions 123 and 124 (with one more signature, classify_x2_to_y3)
  for the two-version model. It keeps an asset file whose path the main op stores at load
  time, as TF1 exports with vocabularies do, so loading exercises asset paths and main ops.
* half_plus_three (TF1 graph): y = 0.5x + 3, every TensorInfo without tensor_shape (what
  very old exports hold; ``tf.saved_model.load`` cannot run it, a Session can), and a
  regress signature keyed by its method name whose string input is declared DT_FLOAT.
* counter (TF1 graph, stateful): a non-resource variable, so outputs are DT_FLOAT_REF;
  get/incr/reset signatures without inputs, incr_counter_by with input ``delta``; no
  serving_default.
* half_plus_two_tf2 (tf.Module + tf.function, tf.saved_model.save): every method name is
  predict, serving_default's ``x`` has a default, and TensorFlow adds
  ``__saved_model_init_op`` to the signature map.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar, cast

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from tests.models import config_text

PREDICT: Final = "tensorflow/serving/predict"
CLASSIFY: Final = "tensorflow/serving/classify"
REGRESS: Final = "tensorflow/serving/regress"
VERSION: Final = "00000123"
NEXT_VERSION: Final = "00000124"
ASSET_NAME: Final = "half_plus_two.txt"

Signatures = dict[str, Any]
Fn = TypeVar("Fn", bound=Callable[..., dict[str, Any]])


def feature_spec() -> dict[str, Any]:
    return {
        "x": tf.io.FixedLenFeature([1], tf.float32),
        "x2": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
    }


def parse_batch(serialized: Any) -> dict[str, Any]:
    """Parse a batch of serialized Examples into x and x2 (each [batch, 1]) the TF1 way.

    TF1's parser was the ParseExample op; TensorFlow 2 emits ParseExampleV2. The op (and
    its node name) shows in TensorFlow's parse errors, so the v1 op keeps those errors
    what TF1 exports answer. An empty default makes a feature required.
    """
    spec = feature_spec()
    with tf.name_scope("ParseExample"):
        parsed = tf.raw_ops.ParseExample(
            serialized=serialized,
            names=tf.constant([], tf.string),
            sparse_keys=[],
            dense_keys=list(spec),
            dense_defaults=[
                tf.constant(f.default_value or [], f.dtype, name=f"default_{key}")
                for key, f in spec.items()
            ],
            sparse_types=[],
            dense_shapes=[f.shape for f in spec.values()],
        )
    return dict(zip(spec, parsed.dense_values, strict=True))


def ref_variable(value: float, name: str) -> Any:
    """A TF1 (non-resource) variable: reading it yields a ref-typed tensor."""
    return tf.compat.v1.Variable(value, name=name, use_resource=False)


def info(tensor: Any) -> Any:
    return tf.compat.v1.saved_model.build_tensor_info(tensor)


def bare_info(name: str, dtype: int) -> Any:
    """A TensorInfo with no tensor_shape field at all."""
    return meta_graph_pb2.TensorInfo(name=name, dtype=dtype)


def signature(inputs: dict[str, Any], outputs: dict[str, Any], method: str) -> Any:
    result = meta_graph_pb2.SignatureDef(method_name=method)
    for alias, tensor_info in inputs.items():
        result.inputs[alias].CopyFrom(tensor_info)
    for alias, tensor_info in outputs.items():
        result.outputs[alias].CopyFrom(tensor_info)
    return result


def save_v1(
    export_dir: Path, graph_fn: Callable[[Path], tuple[Signatures, dict[str, Any]]]
) -> None:
    """Build a graph with ``graph_fn``, initialise it and save it with SavedModelBuilder.

    ``graph_fn`` gets a scratch directory for asset sources and returns the signature
    map and extra ``add_meta_graph_and_variables`` arguments (assets, main op).
    """
    with tempfile.TemporaryDirectory() as scratch, tf.Graph().as_default() as graph:
        signatures, extra = graph_fn(Path(scratch))
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(export_dir))
            builder.add_meta_graph_and_variables(
                session, [tf.saved_model.SERVING], signature_def_map=signatures, **extra
            )
            builder.save()


def half_plus_two_graph(with_x2_classify: bool) -> Callable[[Path], tuple[Signatures, Any]]:
    def build(scratch: Path) -> tuple[Signatures, dict[str, Any]]:
        a, b, c = ref_variable(0.5, "a"), ref_variable(2.0, "b"), ref_variable(3.0, "c")
        serialized = tf.compat.v1.placeholder(tf.string, name="tf_example")
        parsed = parse_batch(serialized)
        x = tf.identity(parsed["x"], name="x")
        x2 = tf.identity(parsed["x2"], name="x2")
        y = tf.add(a * x, b, name="y")
        y2 = tf.add(a * x, c, name="y2")
        y3 = tf.add(a * x2, c, name="y3")
        examples = {"inputs": info(serialized)}
        signatures = {
            "serving_default": signature({"x": info(x)}, {"y": info(y)}, PREDICT),
            "classify_x_to_y": signature(examples, {"scores": info(y)}, CLASSIFY),
            "regress_x_to_y": signature(examples, {"outputs": info(y)}, REGRESS),
            "regress_x_to_y2": signature(examples, {"outputs": info(y2)}, REGRESS),
            "regress_x2_to_y3": signature({"inputs": info(x2)}, {"outputs": info(y3)}, REGRESS),
        }
        if with_x2_classify:
            signatures["classify_x2_to_y3"] = signature(
                {"inputs": info(x2)}, {"scores": info(y3)}, CLASSIFY
            )
        return signatures, asset_and_main_op(scratch)

    return build


def asset_and_main_op(scratch: Path) -> dict[str, Any]:
    """An asset file; the main op copies the path the loader feeds for it into a variable."""
    source = scratch / ASSET_NAME
    source.write_text("y = 0.5 * x + 2\n", encoding="utf-8")
    path = tf.constant(str(source), name="asset_path")
    stored = tf.compat.v1.Variable("", name="asset_path_seen", use_resource=False)
    main_op = tf.group(tf.compat.v1.assign(stored, path), name="main_op")
    return {"assets_collection": [path], "main_op": main_op}


def half_plus_three_graph(_: Path) -> tuple[Signatures, dict[str, Any]]:
    a, b = ref_variable(0.5, "a"), ref_variable(3.0, "b")
    serialized = tf.compat.v1.placeholder(tf.string, name="tf_example")
    x = tf.identity(parse_batch(serialized)["x"], name="x")
    y = tf.add(a * x, b, name="y")
    regress_out = tf.identity(y, name="Identity")
    f32 = types_pb2.DT_FLOAT
    signatures = {
        "serving_default": signature(
            {"x": bare_info(x.name, f32)}, {"y": bare_info(y.name, f32)}, PREDICT
        ),
        # The input is the string placeholder, declared DT_FLOAT: servers must go by the
        # graph's tensor, not by the declared dtype.
        REGRESS: signature(
            {"inputs": bare_info(serialized.name, f32)},
            {"outputs": bare_info(regress_out.name, f32)},
            REGRESS,
        ),
    }
    return signatures, {}


def counter_graph(_: Path) -> tuple[Signatures, dict[str, Any]]:
    counter = ref_variable(0.0, "counter")
    delta = tf.compat.v1.placeholder(tf.float32, name="delta")
    with tf.name_scope("incr_counter_op"):
        incr = tf.compat.v1.assign_add(counter, 1.0)
    with tf.name_scope("incr_counter_by_op"):
        incr_by = tf.compat.v1.assign_add(counter, delta)
    with tf.name_scope("reset_counter_op"):
        reset = tf.compat.v1.assign(counter, 0.0)
    signatures = {
        "get_counter": signature(
            {},
            {"output": info(tf.compat.v1.get_default_graph().get_tensor_by_name(counter.name))},
            PREDICT,
        ),
        "incr_counter": signature({}, {"output": info(incr)}, PREDICT),
        "incr_counter_by": signature({"delta": info(delta)}, {"output": info(incr_by)}, PREDICT),
        "reset_counter": signature({}, {"output": info(reset)}, PREDICT),
    }
    return signatures, {}


EXAMPLES: Final = tf.TensorSpec([None], tf.string)
ONE_FLOAT: Final = tf.TensorSpec([1], tf.float32)
DEFAULT_X: Final = tf.constant([0.0])


def tf_signature(spec: Any) -> Callable[[Fn], Fn]:
    """tf.function with a one-argument input signature (typed for mypy)."""
    return cast(Callable[[Fn], Fn], tf.function(input_signature=[spec]))


class HalfPlusTwoTF2(tf.Module):  # type: ignore[misc]
    """y = 0.5x + 2 as tf.function signatures; every method name is predict."""

    def __init__(self) -> None:
        super().__init__()
        self.a = tf.Variable(0.5)
        self.b = tf.Variable(2.0)
        self.c = tf.Variable(3.0)

    def _x(self, serialized: Any) -> Any:
        return tf.io.parse_example(serialized, feature_spec())["x"]

    # A Tensor default becomes the signature's `defaults` entry.
    @tf_signature(ONE_FLOAT)
    def predict(self, x: Any = DEFAULT_X) -> dict[str, Any]:
        return {"y": self.a * x + self.b}

    @tf_signature(EXAMPLES)
    def classify_x_to_y(self, inputs: Any) -> dict[str, Any]:
        return {"scores": self.a * self._x(inputs) + self.b}

    @tf_signature(ONE_FLOAT)
    def classify_x2_to_y3(self, inputs: Any) -> dict[str, Any]:
        return {"scores": self.a * inputs + self.c}

    @tf_signature(EXAMPLES)
    def regress_x_to_y(self, inputs: Any) -> dict[str, Any]:
        return {"outputs": self.a * self._x(inputs) + self.b}

    @tf_signature(EXAMPLES)
    def regress_x_to_y2(self, inputs: Any) -> dict[str, Any]:
        return {"outputs": self.a * self._x(inputs) + self.c}

    @tf_signature(ONE_FLOAT)
    def regress_x2_to_y3(self, inputs: Any) -> dict[str, Any]:
        return {"outputs": self.a * inputs + self.c}


def save_tf2(export_dir: Path) -> None:
    module = HalfPlusTwoTF2()
    signatures = {
        "serving_default": module.predict,
        "classify_x_to_y": module.classify_x_to_y,
        "classify_x2_to_y3": module.classify_x2_to_y3,
        "regress_x_to_y": module.regress_x_to_y,
        "regress_x_to_y2": module.regress_x_to_y2,
        "regress_x2_to_y3": module.regress_x2_to_y3,
    }
    tf.saved_model.save(module, str(export_dir), signatures=signatures)


def build_tree(root: Path) -> None:
    """Every model directory under ``root``."""
    save_v1(root / "saved_model_half_plus_two_cpu" / VERSION, half_plus_two_graph(False))
    two = root / "saved_model_half_plus_two_2_versions"
    save_v1(two / VERSION, half_plus_two_graph(True))
    shutil.copytree(two / VERSION, two / NEXT_VERSION)  # identical versions
    save_v1(root / "saved_model_half_plus_three" / VERSION, half_plus_three_graph)
    save_v1(root / "saved_model_counter" / VERSION, counter_graph)
    save_tf2(root / "saved_model_half_plus_two_tf2_cpu" / VERSION)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    dest = Path(argv[0]).resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        build_tree(scratch / "tree")
        (scratch / "tree" / "models.config").write_text(config_text(dest), encoding="utf-8")
        try:
            (scratch / "tree").rename(dest)
        except OSError:
            if not dest.is_dir():
                raise
            # Another build finished first; its tree is as good as this one.
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(dest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
