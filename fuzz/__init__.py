"""Coverage-guided fuzzing of the gateway's pure entry points (``scripts/fuzz``).

Each target in ``fuzz.targets`` takes one input (bytes) and raises on a bug: any
exception other than the gateway's own error type (``GatewayError``, or
``ConfigError`` for the config loader), an error text that cannot be rendered as
``{"error": ...}``, a 5xx status for bad input, or a broken property (a request
that does not parse back, a value that does not round-trip). ``fuzz.known``
lists the bugs already known and owned elsewhere, which the fuzzers report but
do not fail on. ``python -m fuzz`` runs every target under atheris for its share
of a time budget, each in its own process, seeded from ``fuzz/corpus/<target>/``.
"""
