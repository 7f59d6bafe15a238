"""The hosted endpoint's Python client example, run against the demo MNIST model.

    .venv/bin/python demo/client.py [--deployment ID] [--url PREDICT_URL] [--index N]

It flattens one 28x28 image row by row (`make_vector`), POSTs `{"inputs": [vector]}` to
http://localhost:8501/model-serving/<ID>/versions/1:predict and prints the HTTP status and
the body, as the example does, then the predicted digit next to the true label. The example
uses `requests`; this uses urllib so that it runs with the standard library, numpy and
scikit-learn only (the image comes from scikit-learn's digits, see digits.py).
"""

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import digits

DEFAULT_HOST = "http://localhost:8501"
DEFAULT_DEPLOYMENT = "mnist"


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
    parser.add_argument("--index", type=int, default=0, help="which of the 1797 digits to send")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    url = args.url or f"{DEFAULT_HOST}/model-serving/{args.deployment}/versions/1:predict"
    images, labels = digits.load()
    try:
        status, text = make_prediction_request(images[args.index], url)
    except urllib.error.URLError as error:
        print(f"cannot reach {url}: {error.reason}", file=sys.stderr)
        return 1
    if status != 200:
        return 1
    print(f"predicted digit {predicted_digit(text)}, true label {labels[args.index]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
