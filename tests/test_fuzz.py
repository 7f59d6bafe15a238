"""The fuzz targets on their seed corpora, and every input the fuzzers found as a regression
test (fuzz/: scripts/fuzz). Known bugs owned elsewhere (fuzz.known) would be strict xfails;
none are open."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from fuzz.known import known_bug
from fuzz.signatures import NAMES
from fuzz.targets import TARGETS, config_input
from gateway.codec.tensor import b64_decode
from gateway.codec.tfs.example import example_body_from_json
from gateway.codec.tfs.predict import predict_body_from_json, predict_inputs_from_json
from gateway.config import ConfigError, EmbeddedModelServer, build_settings
from gateway.core.errors import Code, GatewayError, valid_text

CORPUS = Path(__file__).resolve().parents[1] / "fuzz" / "corpus"
SEEDS = [(t, p) for t in TARGETS for p in sorted((CORPUS / t).iterdir())]


def run_allowing_known(target: str, data: bytes) -> None:
    try:
        TARGETS[target].run(data)
    except Exception:
        if known_bug(target, data) is None:
            raise


@pytest.mark.parametrize(("target", "seed"), SEEDS, ids=[f"{t}-{p.name}" for t, p in SEEDS])
def test_seed_corpus_passes(target: str, seed: Path) -> None:
    run_allowing_known(target, seed.read_bytes())


def test_every_target_has_seeds() -> None:
    assert {t for t, _ in SEEDS} == set(TARGETS)


def sig(name: str) -> bytes:
    return bytes([NAMES.index(name)])


# (target, input) found by the fuzzers; each must now pass its target's checks.
FOUND = [
    # A named input key that is not UTF-8: the error echoed it as surrogates -> 500.
    ("predict", sig("float") + b'{"instances": [{"x\x9c\x9c": 1}, [1]]}'),
    ("predict", sig("pair") + b'{"inputs": {"a": [[1, 2]], "\xff": 1}}'),
    # The same through signature_name on predict (the error names the signature).
    ("predict", sig("float") + b'{"signature_name": "\xff", "instances": [1]}'),
    # An Example feature name that is not UTF-8: a protobuf map key -> UnicodeEncodeError.
    ("example", b'{"examples": [{"\xb3x": []}]}'),
    ("example", b'{"context": {"\xc3": 1}, "examples": [{}]}'),
    # A config file that is not UTF-8: UnicodeDecodeError instead of a ConfigError.
    ("config", b"\x00\xa3\x90\x8b\x97\xa4\x90\x8b\xa2\n"),
    # base64 with padding after a complete quantum was accepted (absl refuses it).
    ("b64", b"QQQQ===="),
    ("b64", b"QQQQ="),
    # absl skips whitespace and takes '.' as padding; the gateway refused both.
    ("b64", b" aGk=\n"),
    ("b64", b"aG\tk."),
    # An empty list for a dtype with no numpy form converts (as in TF Serving) but no
    # answer can hold it; the target no longer decodes it.
    ("predict", sig("bfloat16") + b'{"inputs": []}'),
    # A gzip body that fails after inflating past the cap is refused as too large.
    ("gzip", b":\x02\x00::\x02\x00:"),
    # Found while issue 11's fixes were pending (fuzz.known), fixed there:
    # a classify signature_name that is not UTF-8 (was 500),
    ("example", b'{"signature_name": "\xff", "examples": [{"x": 1}]}'),
    # a b64 object leading the rows of a two-input signature (was 500),
    ("predict", sig("pair") + b'{"instances": [{"b64": "aGk="}]}'),
    # a gzip body cut before its trailer (was inflated to its prefix).
    ("gzip", b"\x02\x10\x00" + b'{"instances": [1.0, 2.0, 5.0]}'),
]


@pytest.mark.parametrize(("target", "data"), FOUND)
def test_found_input_passes(target: str, data: bytes) -> None:
    TARGETS[target].run(data)


# --- the fixes, in the gateway's own terms --------------------------------------------


def test_non_utf8_key_in_an_error_renders_as_replacement_character() -> None:
    parsed = predict_body_from_json(b'{"instances": [{"a\xff": 1}]}')
    with pytest.raises(GatewayError) as caught:
        predict_inputs_from_json(parsed, {"x": 1})
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert "a\ufffd" in caught.value.message
    orjson.dumps({"error": caught.value.message})


def test_valid_text_keeps_text_and_replaces_surrogates() -> None:
    assert valid_text("plain é ✓") == "plain é ✓"
    assert valid_text("x\udcff\ud800y") == "x\ufffd\ufffdy"


def test_example_feature_name_that_is_not_utf8_shows_a_replacement_character() -> None:
    parsed = example_body_from_json(b'{"examples": [{"\xb3x": 1}]}')
    assert list(parsed.input.example_list.examples[0].features.feature) == ["\ufffdx"]
    parsed = example_body_from_json('{"examples": [{"é": 1}]}'.encode())
    assert list(parsed.input.example_list.examples[0].features.feature) == ["é"]


def test_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_bytes(b'[server]\nmodel_server = "a:1"\nhost = "\xff"\n')
    with pytest.raises(ConfigError, match="is not UTF-8"):
        build_settings(str(path), {}, {}, [], EmbeddedModelServer())


def test_config_input_layout() -> None:
    environ, toml = config_input(b"\x03x\n\x01y\x00[server]\n")
    assert toml == b"[server]\n" and len(environ) == 2


B64 = [
    ("aGk=", b"hi"),
    ("aGk", b"hi"),
    ("aGk.", b"hi"),
    (" a G k = ", b"hi"),
    ("aGVsbG8=\r\n", b"hello"),
    ("", b""),
    ("QQ==", b"A"),
    ("QQ", b"A"),
    ("QQ=", None),
    ("QQ===", None),
    ("QQQQ====", None),
    ("QQQQ=", None),
    ("Q", None),
    ("=", None),
    ("QQ==QQ==", None),
    ("a-_b", None),
    ("aGk=\x00", None),
]


@pytest.mark.parametrize(("text", "expected"), B64)
def test_b64_follows_absl(text: str, expected: bytes | None) -> None:
    """compatibility.md §4.4: absl::Base64Unescape's rules."""
    if expected is None:
        with pytest.raises(GatewayError, match="Unable to base64 decode"):
            b64_decode({"b64": text})
    else:
        assert b64_decode({"b64": text}) == expected
