"""One loaded SavedModel version: a TF1-style Session in its own graph.

TensorFlow Serving loads every SavedModel (TF1 graphs and TF2 exports alike)
with the ``serve`` tag into a Session and runs signatures by tensor name. The
same path here is the only one that runs the old test models (no TensorInfo
shapes, ref-typed outputs), and it keeps TF Serving's feed semantics: feeds go
through the C API as they are, so their shapes are not checked against the
placeholders and a dtype mismatch is TensorFlow's own error
("Expects arg[0] to be float but int64 is provided").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf
from tensorflow.python.client import pywrap_tf_session
from tensorflow.python.saved_model import loader_impl

from gateway.core import protos
from gateway.core.errors import Code, GatewayError

SERVE_TAG = "serve"


class Servable:
    """A SavedModel version loaded into a Session, with its signatures."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.graph: Any = tf.Graph()
        self.session: Any = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = loader_impl.SavedModelLoader(path).load(self.session, [SERVE_TAG])
        self.signatures: Any = _signature_def_map(meta_graph)

    def run(self, feeds: Mapping[str, Any], fetches: Sequence[str]) -> list[Any]:
        """Run the graph, feeding and fetching by tensor name (``x:0``)."""
        feed_dict = {self._output(name): value for name, value in feeds.items()}
        fetch_list = [self._output(name) for name in fetches]
        try:
            result: list[Any] = pywrap_tf_session.TF_SessionRun_wrapper(
                self.session._session, None, feed_dict, fetch_list, [], None
            )
        except tf.errors.OpError as exc:
            # Kernel errors reach the client with their own code and text (compatibility.md §2.6).
            raise GatewayError(Code(exc.error_code), exc.message) from exc
        except UnicodeDecodeError as exc:
            # A kernel message quoting input bytes that are not UTF-8 (ParseExample on a
            # payload that is no Example) cannot become a Python exception: TensorFlow's
            # binding fails to decode it and drops its code. Such kernels report
            # INVALID_ARGUMENT; the text keeps every byte, undecodable ones as U+FFFD.
            raise GatewayError(Code.INVALID_ARGUMENT, _kernel_text(exc)) from None
        return result

    def dtype(self, tensor_name: str) -> int:
        """The DataType number of a graph tensor (ref types stay ref here)."""
        enum: int = self._tensor(tensor_name).dtype.as_datatype_enum
        return enum

    def close(self) -> None:
        self.session.close()

    def _tensor(self, name: str) -> Any:
        try:
            return self.graph.get_tensor_by_name(name)
        except (KeyError, ValueError) as exc:
            raise GatewayError(Code.INVALID_ARGUMENT, str(exc)) from exc

    def _output(self, name: str) -> Any:
        return self._tensor(name)._as_tf_output()


def _kernel_text(exc: UnicodeDecodeError) -> str:
    raw = exc.object if isinstance(exc.object, bytes) else bytes(exc.object)
    return raw.decode("utf-8", "replace")


def _signature_def_map(meta_graph: Any) -> Any:
    """TensorFlow's SignatureDefs, re-read into the project's SignatureDefMap."""
    result = protos.SignatureDefMap()
    for key, signature in meta_graph.signature_def.items():
        result.signature_def[key].ParseFromString(signature.SerializeToString())
    return result
