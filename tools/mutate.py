"""Curated mutation testing: apply one single-line mutant at a time, run the tests that guard it.

Each mutant in ``tools/mutants.yaml`` names a file, one line of it (``original``, compared without
its indentation; ``anchor``, when given, is a text of an earlier line after which the search
starts), the line that replaces it (``mutated``, given the original's indentation), the behaviour
it breaks and the tests (files or pytest node ids) that should catch it. For each mutant the
script checks the file is unchanged in git, writes the mutant, runs pytest on the tests, and
restores the file byte for byte (also on Ctrl-C or SIGTERM). A mutant is

* ``killed``: the tests failed (pytest status 1);
* ``timeout``: the tests ran longer than ``--timeout`` (counted as killed);
* ``survived``: the tests passed: the suite would let that change through;
* ``error``: pytest could not run (status 2-5; e.g. no test collected): fix the entry.

A baseline run of every mutant's tests on the unmutated code comes first (skip it with
``--no-baseline``): a test that already fails proves nothing. Results go to
``<out>/results.jsonl`` (pytest's output of each in ``<out>/logs/<id>.log``) and the
survivors to ``<out>/survivors.txt``; mutants with an
``equivalent`` reason that survive are listed there as equivalent, not counted against the
suite. Not run in CI (minutes per mutant); run it before a release and after a large change::

    make mutate                                   # every mutant
    .venv/bin/python tools/mutate.py --only atomic-commit-no-file-fsync
    .venv/bin/python tools/mutate.py --list

Exit status: 0 when every mutant is killed (or a listed equivalent), 1 when one survived or
errored, 2 on a bad mutant list.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "tools" / "mutants.yaml"


@dataclass
class Mutant:
    """One single-line change and the tests that should catch it.

    Attributes:
        id: A short unique name.
        file: The file to change, relative to the repository root.
        original: The line to replace (without indentation).
        mutated: The line that replaces it (without indentation).
        tests: pytest targets (files or node ids).
        behaviour: What a user loses when the mutant ships.
        anchor: Start searching for ``original`` after the first line containing this text.
        equivalent: Why a surviving mutant changes no user-visible result ("" if it does).
        issue: The issue that asked for it (0: none).
    """

    id: str
    file: str
    original: str
    mutated: str
    tests: list[str]
    behaviour: str
    anchor: str = ""
    equivalent: str = ""
    issue: int = 0


class MutantError(Exception):
    """A mutant entry that cannot be applied (file, anchor or line not found, or not unique)."""


def load(path: Path) -> list[Mutant]:
    """Read the mutant list.

    Raises:
        MutantError: A missing or unknown key, or a duplicate id.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    mutants: list[Mutant] = []
    for i, raw in enumerate(data.get("mutants") or []):
        missing = [
            k for k in ("id", "file", "original", "mutated", "tests", "behaviour") if k not in raw
        ]
        if missing:
            raise MutantError(f"{path}: mutant {i}: '{missing[0]}' is missing")
        unknown = sorted(set(raw) - set(Mutant.__dataclass_fields__))
        if unknown:
            raise MutantError(f"{path}: mutant {raw['id']}: unknown key '{unknown[0]}'")
        mutants.append(Mutant(**raw))
    ids = [m.id for m in mutants]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise MutantError(f"{path}: duplicate mutant id {dupes[0]}")
    return mutants


def mutate_text(text: str, mutant: Mutant) -> str:
    """``text`` with the mutant's line replaced.

    Raises:
        MutantError: The anchor or the line is not found, or the line is not unique after it.
    """
    lines = text.splitlines(keepends=True)
    start = 0
    if mutant.anchor:
        at = [i for i, line in enumerate(lines) if mutant.anchor in line]
        if not at:
            raise MutantError(f"{mutant.id}: anchor {mutant.anchor!r} not in {mutant.file}")
        start = at[0] + 1
    want = mutant.original.strip()
    hits = [i for i in range(start, len(lines)) if lines[i].strip() == want]
    if not hits:
        raise MutantError(f"{mutant.id}: line {want!r} not in {mutant.file} (after the anchor)")
    if not mutant.anchor and len(hits) > 1:
        raise MutantError(f"{mutant.id}: line {want!r} occurs {len(hits)} times; add an anchor")
    i = hits[0]
    line = lines[i]
    indent = line[: len(line) - len(line.lstrip())]
    ending = line[len(line.rstrip("\r\n")) :]
    lines[i] = f"{indent}{mutant.mutated.strip()}{ending}"
    return "".join(lines)


def _git_clean(path: Path) -> bool:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return out.returncode == 0 and not out.stdout.strip()


def run_tests(
    tests: list[str], timeout: float, log: Path | None = None
) -> tuple[str, int | None, float, str]:
    """Run pytest on ``tests``: (outcome, status, seconds, last lines of output).

    The whole output goes to ``log`` when given.
    """
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # no stale .pyc of a mutant survives
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return "timeout", None, time.monotonic() - t0, ""
    seconds = time.monotonic() - t0
    output = proc.stdout + proc.stderr
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ {' '.join(cmd)}\n{output}", encoding="utf-8")
    tail = "\n".join(output.strip().splitlines()[-6:])
    outcome = {0: "passed", 1: "failed"}.get(proc.returncode, "error")
    return outcome, proc.returncode, seconds, tail


class _Restore:
    """Put a file's original bytes back, on return and on SIGINT/SIGTERM."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.original = path.read_bytes()
        self.stat = path.stat()
        self._old: dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self.restore()
        raise SystemExit(128 + signum)

    def __enter__(self) -> _Restore:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._on_signal)
        return self

    def restore(self) -> None:
        """Write the original bytes back (and its mode)."""
        self.path.write_bytes(self.original)
        os.chmod(self.path, self.stat.st_mode)

    def __exit__(self, *exc: object) -> None:
        self.restore()
        for sig, old in self._old.items():
            signal.signal(sig, old)


def run_mutant(mutant: Mutant, timeout: float, logs: Path | None = None) -> dict[str, Any]:
    """Apply ``mutant``, run its tests, restore the file; the result record.

    pytest's output goes to ``logs/<id>.log`` when ``logs`` is given.
    """
    path = ROOT / mutant.file
    if not _git_clean(path):
        raise MutantError(f"{mutant.id}: {mutant.file} has uncommitted changes; commit first")
    text = path.read_text(encoding="utf-8")
    mutated = mutate_text(text, mutant)
    with _Restore(path):
        path.write_text(mutated, encoding="utf-8")
        log = None if logs is None else logs / f"{mutant.id}.log"
        outcome, status, seconds, tail = run_tests(mutant.tests, timeout, log)
    assert path.read_text(encoding="utf-8") == text, f"{mutant.file} not restored"
    result = {"passed": "survived", "failed": "killed"}.get(outcome, outcome)
    return {
        "id": mutant.id,
        "file": mutant.file,
        "original": mutant.original.strip(),
        "mutated": mutant.mutated.strip(),
        "tests": mutant.tests,
        "behaviour": mutant.behaviour,
        "issue": mutant.issue,
        "result": result,
        "pytest_status": status,
        "seconds": round(seconds, 1),
        "equivalent": mutant.equivalent,
        "tail": tail if result in ("survived", "error") else tail.splitlines()[-1:],
    }


def baseline_targets(mutants: list[Mutant]) -> list[str]:
    """Every mutant's tests once (a node id is dropped when its whole file is listed)."""
    targets = sorted({t for m in mutants for t in m.tests})
    files = {t for t in targets if "::" not in t}
    return [t for t in targets if t in files or t.split("::")[0] not in files]


def _survivor_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        if r["result"] in ("survived", "error"):
            why = f"  equivalent: {r['equivalent']}" if r["equivalent"] else ""
            lines.append(
                f"{r['result'].upper()} {r['id']}  {r['file']}\n"
                f"    - {r['original']}\n    + {r['mutated']}\n"
                f"    breaks: {r['behaviour']}\n    tests: {' '.join(r['tests'])}{why}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the curated mutants (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutants", type=Path, default=MUTANTS, help="the mutant list (YAML)")
    ap.add_argument("--only", nargs="+", default=[], help="run only these mutant ids")
    ap.add_argument("--out", type=Path, default=ROOT / "artifacts" / "mutate")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per test run")
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated test runs")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args(argv)
    try:
        mutants = load(args.mutants)
        unknown = sorted(set(args.only) - {m.id for m in mutants})
        if unknown:
            raise MutantError(f"--only: unknown mutant id {unknown[0]}")
        if args.only:
            mutants = [m for m in mutants if m.id in args.only]
        for m in mutants:  # every entry applies before anything runs
            mutate_text((ROOT / m.file).read_text(encoding="utf-8"), m)
    except (MutantError, OSError, yaml.YAMLError) as e:
        sys.stderr.write(f"mutate: {e}\n")
        return 2
    if args.list:
        for m in mutants:
            sys.stdout.write(f"{m.id:40} {m.file}: {m.behaviour}\n")
        return 0
    if not args.no_baseline:
        targets = baseline_targets(mutants)
        outcome, _, seconds, tail = run_tests(targets, args.timeout * 2)
        sys.stdout.write(f"baseline ({len(targets)} targets): {outcome} ({seconds:.0f} s)\n")
        if outcome != "passed":
            sys.stderr.write(f"mutate: the unmutated code fails its own tests:\n{tail}\n")
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with (args.out / "results.jsonl").open("w", encoding="utf-8") as log:
        for m in mutants:
            try:
                r = run_mutant(m, args.timeout, args.out / "logs")
            except MutantError as e:
                sys.stderr.write(f"mutate: {e}\n")
                return 2
            results.append(r)
            log.write(json.dumps(r) + "\n")
            log.flush()
            sys.stdout.write(f"{r['result']:9} {r['seconds']:6.1f} s  {m.id}\n")
            sys.stdout.flush()
    lines = _survivor_lines(results)
    (args.out / "survivors.txt").write_text("\n".join(lines) + ("\n" if lines else ""), "utf-8")
    killed = sum(r["result"] in ("killed", "timeout") for r in results)
    equivalent = sum(r["result"] == "survived" and bool(r["equivalent"]) for r in results)
    bad = len(results) - killed - equivalent
    sys.stdout.write(
        f"{len(results)} mutants: {killed} killed, {equivalent} equivalent, {bad} survived or "
        f"errored ({bad / max(len(results), 1):.0%}); survivors in {args.out / 'survivors.txt'}\n"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
