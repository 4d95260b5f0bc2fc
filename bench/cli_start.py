"""How long ``csmpt`` takes to answer: ``--help``, ``--version``, ``init`` and a refused recipe.

Each command runs as a fresh process, ``--repeats`` times, alternating with the anchor
``python -c pass`` (the interpreter's own start), and the medians are printed with their ratio
to the anchor. ``--rev REV`` also times the same commands on an older commit's source (its
files from ``git archive``, on this venv), so before and after come from one run on one load.

    .venv/bin/python bench/cli_start.py [--repeats 5] [--rev 7b7dca5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_CSMPT = "import sys; sys.argv[0] = 'csmpt'; from csmpt.cli.app import main; main()"

COMMANDS: list[tuple[str, list[str]]] = [
    ("csmpt --help", ["--help"]),
    ("csmpt --version", ["--version"]),
    ("csmpt train --help", ["train", "--help"]),
    ("csmpt prep --help", ["prep", "--help"]),
    ("csmpt init DIR", ["init", "{tmp}/proj", "--base", "mpt-7b", "--language", "sk", "--force"]),
    ("csmpt train (max_seq_len=abc refused)", ["train", "yamls/tiny/mpt.yaml", "max_seq_len=abc"]),
]


def timed(argv: list[str], source: Path) -> float:
    """Seconds for one run of ``argv`` with ``csmpt`` imported from ``source``."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=source, env=env, capture_output=True, check=False)
    return time.perf_counter() - t0


def export_rev(rev: str, into: Path) -> Path:
    """The files of commit ``rev`` (``git archive``) under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    """Print a Markdown table: median seconds and the ratio to ``python -c pass``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rev", default=None, help="Also time this older commit (before).")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sources = {"now": REPO}
        if args.rev:
            (Path(tmp) / "rev").mkdir()
            sources[f"at {args.rev}"] = export_rev(args.rev, Path(tmp) / "rev")
        anchor: list[float] = []
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeats):
            anchor.append(timed([sys.executable, "-c", "pass"], REPO))
            for label, where in sources.items():
                for name, cmd in COMMANDS:
                    argv = [a.replace("{tmp}", tmp) for a in cmd]
                    t = timed([sys.executable, "-c", RUN_CSMPT, *argv], where)
                    times.setdefault((name, label), []).append(t)
        base = statistics.median(anchor)
        load = os.getloadavg()[0]
        print(f"load average (1 min) at the end: {load:.2f}; {args.repeats} runs each, medians")
        print(f"anchor `python -c pass`: {base:.3f} s\n")
        labels = list(sources)
        head = " | ".join(f"{x} s | {x} vs pass" for x in labels)
        print(f"| command | {head} |")
        print("|---|" + "---:|" * (2 * len(labels)))
        for name, _ in COMMANDS:
            cells = []
            for label in labels:
                m = statistics.median(times[(name, label)])
                cells += [f"{m:.2f}", f"{m / base:.1f}x"]
            print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
