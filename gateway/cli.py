"""Command line: ``tfs-gateway serve ...`` and ``tfs-gateway modelserver ...``.

Flags become settings and settings are run; no logic lives here. The
``modelserver`` subcommand imports TensorFlow lazily, so ``serve`` never does.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: tfs-gateway {serve,modelserver} [flags]

  serve        run the REST gateway (see `tfs-gateway serve --help`)
  modelserver  run the bundled TensorFlow ModelServer (gRPC; needs tensorflow-cpu)
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "modelserver":
        from gateway.modelserver.main import main as modelserver_main

        return modelserver_main(rest)
    if command == "serve":
        from gateway.serve import main as serve_main

        return serve_main(rest)
    print(f"tfs-gateway: unknown command {command!r}\n{USAGE}", end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
