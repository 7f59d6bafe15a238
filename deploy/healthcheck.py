"""Container health check: exit 0 when the gateway's /healthz answers 200.

The gateway image has no curl, so its HEALTHCHECK runs this with the image's
Python. The port is TFS_GATEWAY_PORT when set, else the gateway's default 8501.
"""

import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("TFS_GATEWAY_PORT") or "8501"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as reply:
            return 0 if reply.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
