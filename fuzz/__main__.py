"""Run every fuzz target for its share of a time budget: ``python -m fuzz [--seconds N]``.

Each target runs in its own process (``fuzz.worker``) under atheris, seeded from
``fuzz/corpus/<target>/`` plus the corpus earlier runs grew in
``<out>/corpus/<target>/``. A crash leaves its input in ``<out>/crashes/<target>/``
and makes the exit status 1; known bugs (``fuzz.known``) are listed but pass.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fuzz.targets import TARGETS

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "fuzz" / "corpus"
# libFuzzer's own limits per target: a slow input (hang) and a memory blow-up are crashes.
# What a worker spends outside the fuzzing loop (imports, instrumentation, the corpus'
# first pass); the budget is for the whole run.
STARTUP_S = 3
LIBFUZZER_FLAGS = ("-timeout=10", "-rss_limit_mb=2048", "-max_len=8192", "-print_final_stats=1")


@dataclass(frozen=True, slots=True)
class Outcome:
    target: str
    seconds: int
    returncode: int
    executions: int
    crashes: tuple[Path, ...]
    known: tuple[str, ...]

    @property
    def failed(self) -> bool:
        return self.returncode != 0 or bool(self.crashes)


def run_target(name: str, seconds: int, out: Path) -> Outcome:
    corpus, crashes, logs = (out / kind / name for kind in ("corpus", "crashes", "logs"))
    for folder in (corpus, crashes, logs):
        folder.mkdir(parents=True, exist_ok=True)
    known_log = logs / "known.tsv"
    known_log.unlink(missing_ok=True)
    before = set(crashes.iterdir())
    cmd = [sys.executable, "-m", "fuzz.worker", name, str(known_log)]
    cmd += [f"-max_total_time={seconds}", f"-artifact_prefix={crashes}/", *LIBFUZZER_FLAGS]
    cmd += [str(corpus), str(SEEDS / name)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(logs / "fuzz.log", "wb") as log:
        try:
            proc = subprocess.run(
                cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 120
            )
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            returncode = -1
    text = (logs / "fuzz.log").read_text(errors="replace")
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
    known = known_log.read_text().splitlines() if known_log.exists() else []
    return Outcome(
        name,
        seconds,
        returncode,
        int(runs[-1]) if runs else 0,
        tuple(sorted(set(crashes.iterdir()) - before)),
        tuple(line.split("\t")[0] for line in known),
    )


def report(outcome: Outcome, out: Path) -> str:
    verdict = "FAIL" if outcome.failed else "ok"
    line = f"{outcome.target:10} {verdict:4} {outcome.executions:>9} runs in {outcome.seconds:>4} s"
    if outcome.known:
        line += f"  known: {', '.join(outcome.known)}"
    for crash in outcome.crashes:
        line += f"\n    crash input: {crash}"
    if outcome.failed:
        line += f"\n    log: {out / 'logs' / outcome.target / 'fuzz.log'}"
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__)
    parser.add_argument("--seconds", type=int, default=600, help="budget for all targets")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="repeatable")
    parser.add_argument("--out", type=Path, default=REPO / "fuzz" / "results")
    args = parser.parse_args(argv)
    names = args.target or list(TARGETS)
    print(f"fuzz: {len(names)} targets in {args.seconds} s, results in {args.out}", flush=True)
    start = time.monotonic()
    deadline = start + args.seconds
    outcomes = []
    for left, name in zip(range(len(names), 0, -1), names, strict=True):
        share = max(1, int((deadline - time.monotonic()) / left - STARTUP_S))
        outcomes.append(run_target(name, share, args.out))
        print(report(outcomes[-1], args.out), flush=True)
    failed = [o.target for o in outcomes if o.failed]
    spent = time.monotonic() - start
    print(f"fuzz: {len(outcomes) - len(failed)} passed, {len(failed)} failed in {spent:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
