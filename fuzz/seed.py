"""Write the seed corpora (``fuzz/corpus/<target>/``) from the tests' own tables.

``python -m fuzz.seed`` rewrites them; the result is committed. Each seed is named
by the hash of its bytes, so a rerun adds nothing when the tables are unchanged.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from fuzz.signatures import NAMES, SPREAD
from fuzz.targets import ENV_NAMES, METHODS
from gateway.config import KNOBS
from tests import test_config, test_urls
from tests.codec import test_example, test_jsonparse, test_predict
from tests.security import test_hostile_input

CORPUS = Path(__file__).resolve().parent / "corpus"
MAX_SEED = 8192
DEMO = Path(__file__).resolve().parents[1] / "demo"

_DTYPE_SIGNATURE = {
    1: "float",
    2: "double",
    3: "int32",
    4: "uint8",
    5: "int16",
    6: "int8",
    7: "string",
    9: "int64",
    10: "bool",
    14: "bfloat16",
    17: "uint16",
    19: "half",
    22: "uint32",
    23: "uint64",
}


def signature_for(dtypes: dict[str, int]) -> int:
    """The index of the spread's signature with these inputs (float's when none fits)."""
    if len(dtypes) == 1:
        ((alias, dtype),) = dtypes.items()
        name = "image_bytes" if alias == "image_bytes" else _DTYPE_SIGNATURE.get(dtype, "float")
        return NAMES.index(name)
    for name, inputs in SPREAD.items():
        if set(inputs) == set(dtypes):
            return NAMES.index(name)
    return NAMES.index("pair")


def predict_seeds() -> Iterator[bytes]:
    tables = [(body, dtypes) for body, dtypes, *_ in test_predict.CONVERSIONS]
    tables += [(body, dtypes) for body, dtypes, *_ in test_predict.ERRORS]
    for body, dtypes in tables:
        yield bytes([signature_for(dtypes)]) + body
    for row in test_hostile_input.BODIES:
        _, body, _ = getattr(row, "values", row)  # pytest.param rows keep theirs in .values
        if len(body) < MAX_SEED:
            yield bytes([NAMES.index("float")]) + body
    yield bytes([NAMES.index("mixed")]) + (
        b'{"instances": [{"f": [1.5, 2], "flag": true, "id": 7, "s": "a"}]}'
    )
    yield bytes([NAMES.index("mixed")]) + (
        b'{"inputs": {"f": [[1, 2]], "flag": [false], "id": [1], "s": {"b64": "aGk="}}}'
    )


def example_seeds() -> Iterator[bytes]:
    for example, _ in test_example.FEATURES:
        yield b'{"examples": [' + example + b"]}"
    for body, _ in test_example.ERRORS:
        yield body
    yield b'{"signature_name": "s", "context": {"c": 1}, "examples": [{}, {"x": "a"}]}'
    yield (DEMO / "digits_classify_sample.json").read_bytes()[:MAX_SEED]


def json_seeds() -> Iterator[bytes]:
    yield from (body for body, _ in test_jsonparse.ACCEPTED)
    yield from (body for body, _ in test_jsonparse.REJECTED)


def url_seeds() -> Iterator[bytes]:
    rows = test_urls.TFS_OK + test_urls.TFS_ERRORS + test_urls.PS_OK
    for method, path, *_ in rows:
        yield bytes([METHODS.index(method)]) + path.encode("latin-1")
    yield bytes([METHODS.index("GET")]) + b"/model-serving/d1/versions/3/metadata"
    yield bytes([METHODS.index("POST")]) + b"/model-serving/d%C3%A9p:regress"


def _env_block(env: dict[str, str]) -> bytes:
    lines = [bytes([ENV_NAMES.index(k)]) + v.encode() for k, v in env.items() if k in ENV_NAMES]
    return b"\n".join(lines) + b"\x00"


def config_seeds() -> Iterator[bytes]:
    for toml, env, _ in test_config.BAD:
        yield _env_block(env) + (toml or "").encode()
    yield _env_block({}) + test_config.AUTH_TOML.encode()
    server = "\n".join(f"{k.name} = {_toml_default(k.kind)}" for k in KNOBS)
    yield b"[server]\n" + server.encode() + b"\n"
    yield _env_block({"TFS_GATEWAY_MODEL_SERVER": "a:1", "TFS_GATEWAY_TIMEOUT_S": "2.5"})
    yield _env_block({}) + (
        b'[server]\nport = 8501\ntimeout_s = 30.0\n[backends.default]\ntarget = "dns:///x:8500"\n'
        b'[backends.gpu]\ntarget = "ipv4:10.0.0.5:8500,10.0.0.6:8500"\ntimeout_s = 10.0\n'
        b'max_attempts = 2\n[models.resnet]\nbackend = "gpu"\n'
        b"timeouts = { predict = 5.0, metadata = 2.0 }\n"
        b'[deployments]\n"abc123" = "resnet"\nxyz = { model = "resnet", backend = "gpu" }\n'
    )


def _toml_default(kind: type) -> str:
    return {bool: "true", int: "1", float: "1.5", str: '"127.0.0.1:8500"'}[kind]


FLOATS = (0.0, -0.0, 1.0, 0.1, 1 / 3, 1e-45, 1.17549435e-38, 3.4028235e38, 16777217.0, 5e-324)


def floattext_seeds() -> Iterator[bytes]:
    specials = (*FLOATS, float("inf"), float("-inf"), float("nan"), 2.5e-8, 123456789.0)
    yield b"\x00" + struct.pack(f"<{len(specials)}f", *specials)
    yield b"\x01" + struct.pack(f"<{len(specials)}d", *specials)
    yield b"\x00" + struct.pack("<4f", 0.3, 2.0, 1e10, 7e-39)
    yield b"\x01" + struct.pack("<2d", 0.1 + 0.2, 1e23)


def b64_seeds() -> Iterator[bytes]:
    yield from (b"aGk=", b"aGk", b"aGVsbG8gd29ybGQ=", b"", b"=", b"QQ==", b"QQ=", b"a+/b", b"a-_b")


def gzip_seeds() -> Iterator[bytes]:
    body = b'{"instances": [1.0, 2.0, 5.0]}'
    for mode in range(5):
        yield bytes([mode]) + (64).to_bytes(2, "little") + body
    yield bytes([1]) + (4).to_bytes(2, "little") + body
    yield bytes([0]) + (1000).to_bytes(2, "little") + gzip.compress(body, mtime=0)


SEEDS = {
    "predict": predict_seeds,
    "example": example_seeds,
    "json": json_seeds,
    "urls": url_seeds,
    "config": config_seeds,
    "floattext": floattext_seeds,
    "b64": b64_seeds,
    "gzip": gzip_seeds,
}


def write(name: str, seeds: Iterable[bytes]) -> int:
    folder = CORPUS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    written = set()
    for seed in seeds:
        if len(seed) <= MAX_SEED:
            digest = hashlib.sha1(seed).hexdigest()[:16]
            (folder / digest).write_bytes(seed)
            written.add(digest)
    return len(written)


def main() -> None:
    for name, seeds in SEEDS.items():
        print(f"{name}: {write(name, seeds())} seeds")


if __name__ == "__main__":
    main()
