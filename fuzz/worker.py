"""One fuzz target under atheris (libFuzzer) in its own process.

``python -m fuzz.worker TARGET KNOWN_LOG [libFuzzer flags and corpus directories]``.
Only the gateway's modules are instrumented for coverage. Inputs that trigger a
known bug (``fuzz.known``) are noted once per bug in KNOWN_LOG and pass.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["gateway"]):
    from fuzz.known import known_bug
    from fuzz.targets import TARGETS


def main() -> None:
    name, known_log, *flags = sys.argv[1:]
    run = TARGETS[name].run
    seen: set[str] = set()

    def one_input(data: bytes) -> None:
        try:
            run(data)
        except Exception:
            known = known_bug(name, data)
            if known is None:
                raise
            if known.name not in seen:
                seen.add(known.name)
                with open(known_log, "a", encoding="utf-8") as log:
                    log.write(f"{known.name}\t{known.what}\t{data.hex()}\n")

    atheris.Setup([sys.argv[0], *flags], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
