"""The TF Serving API messages, from the project's own descriptor set.

The descriptor set (``tfs_api.binpb``, compiled from ``protos/`` by
``scripts/gen-protos``) is loaded into a *private* descriptor pool. Generated
``_pb2`` modules would register the same file names in protobuf's default pool
and collide with TensorFlow's copies in any process that also imports
TensorFlow (the bundled ModelServer does); a private pool never collides.

Message classes are typed ``Any``: they are built at run time, so static
checkers cannot see their fields.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

DESCRIPTOR_SET = "tfs_api.binpb"


def _load_pool() -> descriptor_pool.DescriptorPool:
    data = resources.files(__package__).joinpath(DESCRIPTOR_SET).read_bytes()
    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    pool = descriptor_pool.DescriptorPool()
    for file_proto in fds.file:
        pool.Add(file_proto)
    return pool


POOL = _load_pool()


def message_class(full_name: str) -> Any:
    """The message class for a full proto name, e.g. ``tensorflow.TensorProto``."""
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(full_name))


def _tf(name: str) -> Any:
    return message_class(f"tensorflow.{name}")


def _serving(name: str) -> Any:
    return message_class(f"tensorflow.serving.{name}")


# tensorflow core
TensorProto: Any = _tf("TensorProto")
TensorShapeProto: Any = _tf("TensorShapeProto")
Example: Any = _tf("Example")
Features: Any = _tf("Features")
Feature: Any = _tf("Feature")
SignatureDef: Any = _tf("SignatureDef")
TensorInfo: Any = _tf("TensorInfo")

# tensorflow.serving
ModelSpec: Any = _serving("ModelSpec")
PredictRequest: Any = _serving("PredictRequest")
PredictResponse: Any = _serving("PredictResponse")
ClassificationRequest: Any = _serving("ClassificationRequest")
ClassificationResponse: Any = _serving("ClassificationResponse")
RegressionRequest: Any = _serving("RegressionRequest")
RegressionResponse: Any = _serving("RegressionResponse")
MultiInferenceRequest: Any = _serving("MultiInferenceRequest")
MultiInferenceResponse: Any = _serving("MultiInferenceResponse")
Input: Any = _serving("Input")
SignatureDefMap: Any = _serving("SignatureDefMap")
GetModelMetadataRequest: Any = _serving("GetModelMetadataRequest")
GetModelMetadataResponse: Any = _serving("GetModelMetadataResponse")
GetModelStatusRequest: Any = _serving("GetModelStatusRequest")
GetModelStatusResponse: Any = _serving("GetModelStatusResponse")
ModelVersionStatus: Any = _serving("ModelVersionStatus")
StatusProto: Any = _serving("StatusProto")
ReloadConfigRequest: Any = _serving("ReloadConfigRequest")
ReloadConfigResponse: Any = _serving("ReloadConfigResponse")
ModelServerConfig: Any = _serving("ModelServerConfig")
ModelConfig: Any = _serving("ModelConfig")

DataType = POOL.FindEnumTypeByName("tensorflow.DataType")
ErrorCode = POOL.FindEnumTypeByName("tensorflow.error.Code")
ModelState = POOL.FindEnumTypeByName("tensorflow.serving.ModelVersionStatus.State")

SIGNATURE_DEF_MAP_TYPE_URL = "type.googleapis.com/tensorflow.serving.SignatureDefMap"

# Fully qualified gRPC method paths, for channel.unary_unary and generic handlers.
PREDICTION_SERVICE = "tensorflow.serving.PredictionService"
MODEL_SERVICE = "tensorflow.serving.ModelService"
