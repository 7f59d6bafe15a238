"""Signature checks for predict, classify and regress, with TF Serving's texts.

The method-name check is off by default in TF Serving
(``--enable_signature_method_name_check=false``): then any signature whose
inputs and outputs fit can serve classify or regress (compatibility.md §5).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import text_format

from gateway.core.errors import Code, GatewayError, invalid_argument

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
EXAMPLES_INPUT = "inputs"
CLASSES_OUTPUT = "classes"
SCORES_OUTPUT = "scores"
REGRESS_OUTPUT = "outputs"


def signature_name(spec: Any) -> str:
    return str(spec.signature_name) or DEFAULT_SIGNATURE


def debug_string(signature: Any) -> str:
    """The SignatureDef in text format, as C++ ``DebugString`` prints it."""
    return text_format.MessageToString(signature)


def predict_signature(signatures: Any, name: str, check_method: bool) -> Any:
    if name not in signatures.signature_def:
        raise GatewayError(Code.FAILED_PRECONDITION, f'Serving signature key "{name}" not found.')
    signature = signatures.signature_def[name]
    methods = (PREDICT_METHOD, CLASSIFY_METHOD, REGRESS_METHOD)
    if check_method and signature.method_name not in methods:
        raise GatewayError(
            Code.INTERNAL,
            f"Expected prediction signature method_name to be one of {{{', '.join(methods)}}}. "
            f"Was: {signature.method_name}",
        )
    return signature


def _find(signatures: Any, name: str) -> Any:
    if name not in signatures.signature_def:
        raise invalid_argument(f"No signature was found with the name: {name}")
    return signatures.signature_def[name]


def _check_method(signature: Any, kind: str, method: str, check_method: bool) -> None:
    if check_method and signature.method_name != method:
        raise invalid_argument(
            f"Expected {kind} signature method_name to be {method}. Was: {signature.method_name}"
        )


def classify_signature(signatures: Any, name: str, check_method: bool) -> tuple[str, list[str]]:
    """(input tensor name, [classes and/or scores tensor names]) of a classify signature."""
    signature = _find(signatures, name)
    _check_method(signature, "classification", CLASSIFY_METHOD, check_method)
    if len(signature.inputs) != 1:
        raise invalid_argument("Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise invalid_argument(
            f"Expected one or two output Tensors, found {len(signature.outputs)}"
        )
    if EXAMPLES_INPUT not in signature.inputs:
        raise invalid_argument(
            f"No classification inputs found in SignatureDef: {debug_string(signature)}"
        )
    outputs = [
        signature.outputs[key].name
        for key in (CLASSES_OUTPUT, SCORES_OUTPUT)
        if key in signature.outputs
    ]
    if not outputs:
        raise invalid_argument(
            'Expected classification signature outputs to contain at least one of "classes" '
            f'or "scores". Signature was: {debug_string(signature)}'
        )
    return signature.inputs[EXAMPLES_INPUT].name, outputs


def regress_signature(signatures: Any, name: str, check_method: bool) -> tuple[str, list[str]]:
    """(input tensor name, [outputs tensor name]) of a regress signature."""
    signature = _find(signatures, name)
    _check_method(signature, "regression", REGRESS_METHOD, check_method)
    if len(signature.inputs) != 1:
        raise invalid_argument("Expected one input Tensor.")
    if len(signature.outputs) != 1:
        raise invalid_argument("Expected one output Tensor.")
    if EXAMPLES_INPUT not in signature.inputs:
        raise invalid_argument(
            f"No regression inputs found in SignatureDef: {debug_string(signature)}"
        )
    if REGRESS_OUTPUT not in signature.outputs:
        raise invalid_argument(
            f"No regression outputs found in SignatureDef: {debug_string(signature)}"
        )
    return signature.inputs[EXAMPLES_INPUT].name, [signature.outputs[REGRESS_OUTPUT].name]


def output_tensor(signatures: Any, name: str, alias: str) -> str:
    """The tensor name behind a classify/regress output alias (empty if absent)."""
    outputs = signatures.signature_def[name].outputs
    return str(outputs[alias].name) if alias in outputs else ""
