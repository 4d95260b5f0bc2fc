"""GPU check, last step: gather the rows into ``gpu_check.json`` and print the table.

python bench/gpu_check_report.py OUT   # reads OUT/rows.jsonl; writes OUT/gpu_check.{json,md}

Every part appends its rows to ``OUT/rows.jsonl`` as it measures them; this script runs last (and
can be rerun over a folder a killed check left). The table lists each expected row; a row that is
not there says so, and why: its part's step row (timed out, failed, skipped because a package does
not import) or, when the part ran, "not measured" with its log.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ATTENTION = ("csmpt_flex_alibi", "csmpt_sdpa_alibi", "torch")
TRAIN = (*ATTENTION, "csmpt_sdpa_alibi@fsdp2")  # the last under Composer's FSDP2 path
LIONW = ("decoupled_lionw", "csmpt_lionw foreach", "csmpt_lionw triton")
# part -> (step names, log): where a missing row's reason is found.
STEPS = {
    "kernels": (("kernels",), "kernels.log"),
    "pytest": (("pytest_quick", "pytest_flex"), "pytest.log"),
    "train": (("train",), "train.log"),
    "resume": (("resume",), "resume.log"),
    "fsdp1_fixture": (("fsdp1_fixture",), "fixture.log"),
}


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file; a torn last line (a killed writer) is dropped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return [r for r in rows if isinstance(r, dict)]


def _num(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) else "-"


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    hits = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    return hits[-1] if hits else None


def _missing_reason(rows: list[dict[str, Any]], part: str) -> str:
    """Why ``part`` left no such row: its step's status, or that it ran and did not measure it."""
    names, log = STEPS[part]
    steps = [r for r in rows if r.get("part") == "step" and r.get("name") in names]
    bad = [s for s in steps if s.get("status") != "ok"]
    if bad:
        return f"missing: {bad[-1]['name']} {bad[-1]['status']}"
    if not steps:
        return "missing: the step never ran (the check stopped before it)"
    return f"missing: not measured (see {log})"


def table(rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The table's lines and the missing rows (each with why)."""
    lines = ["| part | what | value |", "|---|---|---|"]
    missing: list[str] = []

    def add(part: str, what: str, row: dict[str, Any] | None, value: str, owner: str) -> None:
        if row is None:
            value = _missing_reason(rows, owner)
            missing.append(f"{part} / {what}: {value}")
        elif row.get("error"):
            value = f"error: {row['error']}"
        lines.append(f"| {part} | {what} | {value} |")

    env = _find(rows, part="env") or {}
    lines.append(f"| env | device | {env.get('device', '-')} |")
    versions = " / ".join(str(env.get(k, "-")) for k in ("torch", "composer", "llm-foundry"))
    lines.append(f"| env | torch / composer / llm-foundry | {versions} |")
    imports = [r for r in rows if r.get("part") == "import"]
    bad = [r for r in imports if not r.get("ok")]
    value = f"{len(imports) - len(bad)}/{len(imports)}" + "".join(
        f"; {r['module']}: {r.get('error', '')[:120]}" for r in bad[:3]
    )
    lines.append(f"| env | modules that import | {value if imports else '-'} |")

    m = _find(rows, part="kernels", what="matmul_bf16_tflops")
    add("kernels", "bf16 matmul TFLOP/s", m, _num((m or {}).get("value"), ".0f"), "kernels")
    for impl in ATTENTION:
        r = _find(rows, part="kernels", what="attention", impl=impl)
        v = f"{_num((r or {}).get('ms'), '.2f')} ms, {_num((r or {}).get('peak_mib'), '.0f')} MiB"
        add("attention fwd+bwd", impl, r, v, "kernels")
    floor = _find(rows, part="kernels", what="lionw_floor")
    add("lionw", "memory floor ms", floor, _num((floor or {}).get("floor_ms"), ".2f"), "kernels")
    for impl in LIONW:
        r = _find(rows, part="kernels", what="lionw", impl=impl) or _find(
            rows, part="kernels", what="lionw", impl="all"
        )
        v = f"{_num((r or {}).get('ms'), '.2f')} ms, {_num((r or {}).get('vs_floor'), '.2f')}x"
        add("lionw", impl, r, v + " floor", "kernels")
    for group in ("quick", "flex"):
        r = _find(rows, part="pytest", group=group)
        if r is not None and not r.get("summary"):
            r = None
        add("pytest -m gpu", group, r, (r or {}).get("summary", "-"), "pytest")
    for impl in TRAIN:
        r = _find(rows, part="train", impl=impl)
        mfu = (r or {}).get("mfu")
        v = (
            f"{_num((r or {}).get('tokens_per_s'), ',.0f')} tok/s, "
            f"MFU {_num(mfu * 100 if mfu else None, '.1f')}%, "
            f"{_num((r or {}).get('peak_mem_gib'), '.1f')} GiB peak"
        )
        add("350M FSDP bf16", impl, r, v, "train")
    r = _find(rows, part="fsdp1_fixture")
    v = f"{', '.join((r or {}).get('saved', []))} ({(r or {}).get('device', '-')})"
    add("FSDP1 sharded fixture", "saved to OUT/fsdp1", r, v, "fsdp1_fixture")
    killed = _find(rows, part="resume", phase="killed")
    step = (killed or {}).get("killed_after_step")
    add("kill + autoresume", "SIGKILL landed after step", killed, str(step), "resume")
    r = _find(rows, part="resume", phase="compare")
    if r is not None and not r.get("complete"):
        done = {p: _find(rows, part="resume", phase=p) for p in ("reference", "killed", "resumed")}
        phases = [p for p, row in done.items() if row is None or row.get("error")]
        r = {**r, "error": f"incomplete: {', '.join(phases) or '?'} did not finish"}
    v = (
        f"{(r or {}).get('losses_equal_within_bf16_noise')} / {(r or {}).get('events_identical')} "
        f"(max rel diff {_num((r or {}).get('max_rel_loss_diff'), '.2e')})"
    )
    add("kill + autoresume", "losses within bf16 noise / events identical", r, v, "resume")
    for s in rows:
        if s.get("part") == "step" and s.get("status") != "ok":
            lines.append(f"| step | {s.get('name')} | {s.get('status')} |")
    if missing:
        lines.append(f"| summary | rows missing | {len(missing)} (see gpu_check.json 'missing') |")
    return lines, missing


def main() -> None:
    """Write ``OUT/gpu_check.json`` and ``OUT/gpu_check.md``; print the table."""
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "artifacts/gpu_check")
    rows = read_rows(out / "rows.jsonl")
    lines, missing = table(rows)
    result = {"rows": rows, "missing": missing, "table": lines}
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (out / "gpu_check.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    for line in missing:
        print(f"missing: {line}")


if __name__ == "__main__":
    main()
