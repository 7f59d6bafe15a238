"""The floor of this design: the least an aiohttp + grpc.aio gateway does for the
same predict, run as its own process beside the real gateway in the benchmarks.

    python -m benchmarks.bare --port P --model-server HOST:PORT --input ALIAS

One route (``POST /v1/models/{model}:predict``), ``orjson.loads`` of the body,
``numpy.asarray`` of ``instances`` into float32 ``tensor_content``, one
grpc.aio call, ``numpy`` + ``orjson.dumps`` of the first output. No checks, no
signatures, no metrics, no logs, no error mapping: whatever the gateway spends
beyond this is the price of its features.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

import grpc
import numpy as np
import orjson
from aiohttp import web

from gateway.core import protos

DT_FLOAT = 1
PREDICT = "/tensorflow.serving.PredictionService/Predict"
CHANNEL = web.AppKey("channel", grpc.aio.Channel)
STUB = web.AppKey("stub", grpc.aio.UnaryUnaryMultiCallable)
ALIAS = web.AppKey("alias", str)


def output_array(tensor: Any) -> Any:
    shape = [d.size for d in tensor.tensor_shape.dim]
    if tensor.tensor_content:
        return np.frombuffer(tensor.tensor_content, np.float32).reshape(shape)
    return np.asarray(tensor.float_val, np.float32).reshape(shape)


async def predict(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    array = np.asarray(body["instances"], np.float32)
    message = protos.PredictRequest()
    message.model_spec.name = request.match_info["model"]
    tensor = message.inputs[request.app[ALIAS]]
    tensor.dtype = DT_FLOAT
    tensor.tensor_shape.dim.extend(protos.TensorShapeProto.Dim(size=n) for n in array.shape)
    tensor.tensor_content = array.tobytes()
    response = await request.app[STUB](message.SerializeToString())
    first = next(iter(response.outputs.values()))
    out = orjson.dumps({"predictions": output_array(first)}, option=orjson.OPT_SERIALIZE_NUMPY)
    return web.Response(body=out, content_type="application/json")


def create_app(target: str, alias: str) -> web.Application:
    app = web.Application(client_max_size=2**30)
    app[ALIAS] = alias

    async def channel(app: web.Application) -> AsyncIterator[None]:
        app[CHANNEL] = grpc.aio.insecure_channel(target)
        app[STUB] = app[CHANNEL].unary_unary(
            PREDICT,
            request_serializer=None,
            response_deserializer=protos.PredictResponse.FromString,
        )
        yield
        await app[CHANNEL].close()

    app.cleanup_ctx.append(channel)
    app.router.add_post("/v1/models/{model}:predict", predict)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--model-server", required=True)
    p.add_argument("--input", default="x", help="the signature input alias to fill")
    args = p.parse_args()
    web.run_app(
        create_app(args.model_server, args.input),
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
