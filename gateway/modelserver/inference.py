"""The PredictionService and ModelService calls on loaded servables.

Each function takes a request message (project classes) and returns the
response message, raising GatewayError with TF Serving's code and text.
The order of the checks is TF Serving's, because it decides which error a
client sees first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gateway.core import protos
from gateway.core.errors import Code, GatewayError, invalid_argument
from gateway.modelserver import signatures as sigs
from gateway.modelserver.manager import ModelManager
from gateway.modelserver.servable import Servable
from gateway.modelserver.tensors import DT, base_dtype, from_ndarray, to_ndarray

SIGNATURE_DEF_FIELD = "signature_def"


@dataclass(frozen=True)
class InferenceOptions:
    """Server-wide switches that change responses."""

    tensor_content: bool = False  # --enable_serialization_as_tensor_content
    method_name_check: bool = False  # --enable_signature_method_name_check


def require_spec(request: Any) -> Any:
    if not request.HasField("model_spec"):
        raise invalid_argument("Missing ModelSpec")
    return request.model_spec


def fill_spec(target: Any, name: str, signature: str | None, version: int) -> None:
    """Response model_spec: name, resolved version, signature (TF Serving's MakeModelSpec)."""
    target.name = name
    if signature is not None:
        target.signature_name = signature or sigs.DEFAULT_SIGNATURE
    target.version.value = version


# --- predict --------------------------------------------------------------


def predict(manager: ModelManager, request: Any, options: InferenceOptions) -> Any:
    spec = require_spec(request)
    version, servable = manager.servable(spec)
    name = sigs.signature_name(spec)
    signature = sigs.predict_signature(servable.signatures, name, options.method_name_check)
    response = protos.PredictResponse()
    fill_spec(response.model_spec, spec.name, name, version)
    _check_inputs_size(signature, request)
    feeds = _input_values(signature, request.inputs)
    aliases, names = _outputs(signature, request.output_filter)
    values = servable.run(feeds, names)
    for alias, tensor_name, value in zip(aliases, names, values, strict=True):
        dtype = servable.dtype(tensor_name)
        response.outputs[alias].CopyFrom(from_ndarray(value, dtype, options.tensor_content))
    return response


def _keys(mapping: Any) -> str:
    return ",".join(sorted(mapping))


def _check_inputs_size(signature: Any, request: Any) -> None:
    sent, expected = len(request.inputs), len(signature.inputs)
    if sent > expected or (sent < expected and not signature.defaults):
        extra = set(request.inputs) - set(signature.inputs)
        missing = set(signature.inputs) - set(request.inputs)
        raise invalid_argument(
            f"input size does not match signature: {sent}!={expected} "
            f"len({{{_keys(request.inputs)}}}) != len({{{_keys(signature.inputs)}}}). "
            f"Sent extra: {{{_keys(extra)}}}. Missing but required: {{{_keys(missing)}}}."
        )


def _input_values(signature: Any, inputs: Any) -> dict[str, Any]:
    feeds: dict[str, Any] = {}
    for alias in sorted(signature.inputs):
        feed_name = signature.inputs[alias].name
        if alias in inputs:
            proto = inputs[alias]
        elif alias in signature.defaults:
            proto = signature.defaults[alias]
        else:
            raise invalid_argument(
                f"Signature input alias: {alias}(feed name: {feed_name}) not found in request "
                f"and no default value provided. Inputs expected to be in the request "
                f"{{{_keys(inputs)}}}, or default input alias set: {_keys(signature.defaults)}"
            )
        feeds[feed_name] = to_ndarray(proto, alias)
    used = set(inputs) & set(signature.inputs)
    if inputs and len(used) != len(inputs):
        raise invalid_argument(
            f"Inputs contains invalid name. Used request inputs: {_keys(used)}, "
            f"request input: {_keys(inputs)}"
        )
    return feeds


def _outputs(signature: Any, output_filter: Sequence[str]) -> tuple[list[str], list[str]]:
    aliases: list[str] = []
    for alias in output_filter:
        if alias not in signature.outputs:
            raise invalid_argument(
                f"output tensor alias not found in signature: {alias} Outputs expected to be "
                f"in the set {{{_keys(signature.outputs)}}}."
            )
        if alias in aliases:
            raise invalid_argument(f"duplicate output tensor alias: {alias}")
        aliases.append(alias)
    aliases = aliases or sorted(signature.outputs)
    return aliases, [signature.outputs[alias].name for alias in aliases]


# --- classify and regress -------------------------------------------------


def serialized_examples(model_input: Any) -> Any:
    """The [N] DT_STRING batch fed to the ``inputs`` tensor.

    With a context, each example is the context's bytes followed by the
    example's bytes: proto merge rules make that the union of features, the
    example winning on a shared key (compatibility.md §5).
    """
    kind = model_input.WhichOneof("kind")
    if kind == "example_list":
        batch = [ex.SerializeToString() for ex in model_input.example_list.examples]
    elif kind == "example_list_with_context":
        with_context = model_input.example_list_with_context
        context = with_context.context.SerializeToString()
        batch = [context + ex.SerializeToString() for ex in with_context.examples]
    else:
        batch = []
    if not batch:
        raise invalid_argument("Input is empty.")
    return np.array(batch, dtype=object)


def _shape(value: Any) -> str:
    return "[" + ",".join(str(d) for d in np.shape(value)) + "]"


def _dtype_name(dtype: int) -> str:
    return str(protos.DataType.values_by_number[base_dtype(dtype)].name)


def _check_class_output(kind: str, value: Any, dtype: int, want: str, batch: int) -> None:
    if np.ndim(value) != 2:
        raise invalid_argument(
            f"Expected Tensor shape: [batch_size num_classes] but got {_shape(value)}"
        )
    if base_dtype(dtype) != DT[want].number:
        raise invalid_argument(f"Expected {kind} Tensor of {want}. Got: {_dtype_name(dtype)}")
    if np.shape(value)[0] != batch:
        raise invalid_argument(
            f"Expected {kind} output batch size of {batch}. Got: {np.shape(value)[0]}"
        )


def classification_result(classes: Any, scores: Any, batch: int) -> Any:
    """ClassificationResult from the checked classes/scores arrays (either may be None)."""
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise invalid_argument(
            "Tensors class and score should match in dim_size(1). Got "
            f"{classes.shape[1]} vs. {scores.shape[1]}"
        )
    width = (classes if classes is not None else scores).shape[1]
    result = protos.message_class("tensorflow.serving.ClassificationResult")()
    for row in range(batch):
        entry = result.classifications.add()
        for column in range(width):
            item = entry.classes.add()
            if classes is not None:
                item.label = bytes(classes[row, column]).decode("utf-8", "replace")
            if scores is not None:
                item.score = float(scores[row, column])
    return result


def regression_result(value: Any, dtype: int, batch: int) -> Any:
    shape = np.shape(value)
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        raise invalid_argument(
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] "
            f"but got {_shape(value)}"
        )
    if shape[0] != batch:
        raise invalid_argument(
            f"Input batch size did not match output batch size: {batch} vs. {shape[0]}"
        )
    if base_dtype(dtype) != DT["DT_FLOAT"].number:
        raise invalid_argument(f"Expected output Tensor of DT_FLOAT.  Got: {_dtype_name(dtype)}")
    result = protos.message_class("tensorflow.serving.RegressionResult")()
    for item in np.asarray(value).ravel():
        result.regressions.add(value=float(item))
    return result


@dataclass
class _Run:
    """Outputs of one Session run over a batch of examples, by tensor name."""

    servable: Servable
    values: dict[str, Any]
    batch: int

    def get(self, tensor_name: str) -> tuple[Any, int]:
        if not tensor_name:
            return None, 0
        return self.values[tensor_name], self.servable.dtype(tensor_name)


def _run_examples(
    servable: Servable, model_input: Any, input_name: str, output_names: Sequence[str]
) -> _Run:
    batch = serialized_examples(model_input)
    names = sorted(set(output_names))
    values = servable.run({input_name: batch}, names)
    return _Run(servable, dict(zip(names, values, strict=True)), len(batch))


def _classification(run: _Run, signature_name: str) -> Any:
    signatures = run.servable.signatures
    classes, classes_dtype = run.get(sigs.output_tensor(signatures, signature_name, "classes"))
    scores, scores_dtype = run.get(sigs.output_tensor(signatures, signature_name, "scores"))
    if classes is not None:
        _check_class_output("classes", classes, classes_dtype, "DT_STRING", run.batch)
    if scores is not None:
        _check_class_output("scores", scores, scores_dtype, "DT_FLOAT", run.batch)
    return classification_result(classes, scores, run.batch)


def _regression(run: _Run, signature_name: str) -> Any:
    name = sigs.output_tensor(run.servable.signatures, signature_name, sigs.REGRESS_OUTPUT)
    value, dtype = run.get(name)
    return regression_result(value, dtype, run.batch)


def classify(manager: ModelManager, request: Any, options: InferenceOptions) -> Any:
    return _examples(manager, request, options, "classify")


def regress(manager: ModelManager, request: Any, options: InferenceOptions) -> Any:
    return _examples(manager, request, options, "regress")


# kind -> (signature check, response class, result builder)
_EXAMPLE_KINDS: dict[str, tuple[Any, Any, Any]] = {
    "classify": (sigs.classify_signature, protos.ClassificationResponse, _classification),
    "regress": (sigs.regress_signature, protos.RegressionResponse, _regression),
}


def _examples(manager: ModelManager, request: Any, options: InferenceOptions, kind: str) -> Any:
    """Classify or Regress: serialized Examples (context first) fed to `inputs`."""
    check, response_cls, result = _EXAMPLE_KINDS[kind]
    spec = require_spec(request)
    version, servable = manager.servable(spec)
    name = sigs.signature_name(spec)
    input_name, outputs = check(servable.signatures, name, options.method_name_check)
    response = response_cls()
    fill_spec(response.model_spec, spec.name, name, version)
    run = _run_examples(servable, request.input, input_name, outputs)
    response.result.CopyFrom(result(run, name))
    return response


# --- multi-inference ------------------------------------------------------


def multi_inference(manager: ModelManager, request: Any, options: InferenceOptions) -> Any:
    first = request.tasks[0].model_spec if request.tasks else protos.ModelSpec()
    version, servable = manager.servable(first)
    input_name, output_names = _plan_tasks(servable, request.tasks)
    run = _run_examples(servable, request.input, input_name, output_names)
    response = protos.MultiInferenceResponse()
    for task in request.tasks:
        name = sigs.signature_name(task.model_spec)
        result = response.results.add()
        fill_spec(result.model_spec, task.model_spec.name, name, version)
        if task.method_name == sigs.CLASSIFY_METHOD:
            result.classification_result.CopyFrom(_classification(run, name))
        else:
            result.regression_result.CopyFrom(_regression(run, name))
    return response


def _plan_tasks(servable: Servable, tasks: Sequence[Any]) -> tuple[str, list[str]]:
    """Check the tasks as TF Serving does; one shared input tensor, all outputs."""
    model, input_name, seen = "", "", set()
    outputs: list[str] = []
    for task in tasks:
        spec = task.model_spec
        if not spec.name:
            raise invalid_argument("Found ModelSpec with an empty model name.")
        if model and spec.name != model:
            raise invalid_argument(
                "All ModelSpecs in a MultiInferenceRequest must access the same model name."
            )
        model, name = spec.name, sigs.signature_name(spec)
        if name in seen:
            raise invalid_argument(f"Duplicate evaluation of signature: {name}")
        seen.add(name)
        task_input, task_outputs = _task_signature(servable, task, name)
        if input_name and task_input != input_name:
            raise invalid_argument("Input tensor must be the same for all Signatures.")
        input_name = task_input
        outputs.extend(task_outputs)
    return input_name, outputs


def _task_signature(servable: Servable, task: Any, name: str) -> tuple[str, list[str]]:
    if name not in servable.signatures.signature_def:
        raise invalid_argument(f"Requested signature not found in model graph: {name}")
    if task.method_name == sigs.CLASSIFY_METHOD:
        return sigs.classify_signature(servable.signatures, name, False)
    if task.method_name == sigs.REGRESS_METHOD:
        return sigs.regress_signature(servable.signatures, name, False)
    raise GatewayError(Code.UNIMPLEMENTED, f"Unsupported signature method_name: {task.method_name}")


# --- metadata and status --------------------------------------------------


def get_model_metadata(manager: ModelManager, request: Any) -> Any:
    spec = require_spec(request)
    if not request.metadata_field:
        raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
    for field in request.metadata_field:
        if field != SIGNATURE_DEF_FIELD:
            # TF Serving's StrCat appends the field after the unformatted "%s" text.
            raise invalid_argument(f"Metadata field %s is not supported{field}")
    version, servable = manager.servable(spec)
    response = protos.GetModelMetadataResponse()
    fill_spec(response.model_spec, spec.name, None, version)
    response.metadata[SIGNATURE_DEF_FIELD].Pack(servable.signatures)
    return response


def get_model_status(manager: ModelManager, request: Any) -> Any:
    spec = require_spec(request)
    version = spec.version.value if spec.HasField("version") else None
    response = protos.GetModelStatusResponse()
    for number, state in manager.status(spec.name, version):
        entry = response.model_version_status.add(version=number, state=state.state)
        entry.status.error_code = state.error_code
        entry.status.error_message = state.error_message
    return response


def reload_config(manager: ModelManager, request: Any) -> Any:
    """Errors travel as the gRPC status, as in TF Serving; success carries an OK StatusProto."""
    if request.config.WhichOneof("config") != "model_config_list":
        raise invalid_argument(
            "ServerModelConfig type not supported by HandleReloadConfigRequest. "
            "Only ModelConfigList is currently supported"
        )
    manager.reload(request.config)
    response = protos.ReloadConfigResponse()
    response.status.error_code = Code.OK
    return response
