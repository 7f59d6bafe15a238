"""The hosted endpoint's Python client example, run against the demo MNIST model.

    .venv/bin/python demo/client.py [--deployment ID] [--url PREDICT_URL] [--index N]

It flattens one 28x28 image row by row (`make_vector`), POSTs `{"inputs": [vector]}` to
http://localhost:8501/model-serving/<ID>/versions/1:predict (the port is
`TFS_GATEWAY_PORT` when set, as for the gateway) and prints the HTTP status and the body,
as the example does, then the predicted digit next to the true label. The image is the
one in digits_sample.json (a held-out 7); `--index N` picks digit N of scikit-learn's
digits instead, which needs scikit-learn (`scripts/setup dev`). The example uses
`requests`; this uses urllib so that it runs with the standard library and numpy.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_HOST = f"http://localhost:{os.environ.get('TFS_GATEWAY_PORT', '8501')}"
DEFAULT_DEPLOYMENT = "mnist"
SAMPLE = HERE / "digits_sample.json"
SAMPLE_LABEL = 7  # the first held-out digit (demo/build_models.py prints it when it writes SAMPLE)


def make_vector(image: np.ndarray) -> list[float]:
    """The example's flattening: the image's rows, concatenated."""
    vector: list[float] = []
    for item in image.tolist():
        vector.extend(item)
    return vector


def post_json(url: str, body: Any) -> tuple[int, str]:
    """POST `body` as JSON; (status, text) for error answers too, like `requests` does."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def make_prediction_request(image: np.ndarray, prediction_url: str) -> tuple[int, str]:
    status, text = post_json(prediction_url, {"inputs": [make_vector(image)]})
    print(f"HTTP Response {status}")
    print(text)
    return status, text


def predicted_digit(text: str) -> int:
    """argmax of the single output: `{"outputs": [[10 scores]]}`."""
    scores = json.loads(text)["outputs"][0]
    return int(np.argmax(scores))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployment", default=DEFAULT_DEPLOYMENT, help="deployment id")
    parser.add_argument("--url", help="full predict URL (overrides --deployment)")
    parser.add_argument(
        "--index", type=int, help="send digit N of scikit-learn's 1797 instead of the sample"
    )
    return parser.parse_args(argv)


def sample_image() -> tuple[np.ndarray, int]:
    """The image in digits_sample.json, as the 28x28 array the example starts from."""
    (vector,) = json.loads(SAMPLE.read_text())["inputs"]
    return np.asarray(vector, dtype=np.float32).reshape(28, 28), SAMPLE_LABEL


def indexed_image(index: int) -> tuple[np.ndarray, int]:
    sys.path.insert(0, str(HERE))
    import digits  # scikit-learn's digits in MNIST layout

    images, labels = digits.load()
    return images[index], int(labels[index])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    url = args.url or f"{DEFAULT_HOST}/model-serving/{args.deployment}/versions/1:predict"
    try:
        image, label = sample_image() if args.index is None else indexed_image(args.index)
    except ImportError:
        print("--index needs scikit-learn: scripts/setup dev installs it", file=sys.stderr)
        return 2
    try:
        status, text = make_prediction_request(image, url)
    except urllib.error.URLError as error:
        print(f"cannot reach {url}: {error.reason}", file=sys.stderr)
        return 1
    if status != 200:
        return 1
    print(f"predicted digit {predicted_digit(text)}, true label {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
