"""GPU check, last step: merge the parts' JSON files into one and print a short table.

python bench/gpu_check_report.py OUT     # reads OUT/*.json parts, writes OUT/gpu_check.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PARTS = ("env", "kernels", "pytest", "train", "resume", "steps")


def _load(path: Path) -> Any:
    if not path.is_file():
        return {"missing": True}
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.split("\n") if line.strip()]
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        return {"unreadable": str(e)}


def _num(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) else "-"


def table(result: dict[str, Any]) -> list[str]:
    """The short table printed last: one line per measured thing."""
    rows = ["| part | what | value |", "|---|---|---|"]
    env = result.get("env", {})
    rows.append(f"| env | device | {env.get('device', '-')} |")
    versions = f"{env.get('torch', '-')} / {env.get('composer', '-')}"
    rows.append(f"| env | torch / composer | {versions} |")
    kernels = result.get("kernels", {})
    matmul = kernels.get("matmul_bf16_tflops", {}).get("value")
    rows.append(f"| kernels | bf16 matmul TFLOP/s (measured) | {_num(matmul, '.0f')} |")
    attn = kernels.get("attention", {})
    for name in ("csmpt_flex_alibi", "csmpt_sdpa_alibi", "torch"):
        r = attn.get(name, {})
        value = r.get("error") or (
            f"{_num(r.get('ms'), '.2f')} ms, {_num(r.get('peak_mib'), '.0f')} MiB peak"
        )
        rows.append(f"| attention fwd+bwd | {name} | {value} |")
    lion = kernels.get("lionw", {})
    rows.append(f"| lionw | memory floor ms | {_num(lion.get('floor_ms'), '.2f')} |")
    for name, r in lion.items():
        if isinstance(r, dict):
            ms, ratio = _num(r.get("ms"), ".2f"), _num(r.get("vs_floor"), ".2f")
            value = r.get("error") or f"{ms} ms, {ratio}x floor"
            rows.append(f"| lionw | {name} | {value} |")
    pytest_part = result.get("pytest", {})
    rows.append(f"| pytest -m gpu | passed / failed | {pytest_part.get('summary', '-')} |")
    train = result.get("train", {})
    for name in ("csmpt_flex_alibi", "csmpt_sdpa_alibi", "torch"):
        r = train.get(name, {})
        if "error" in r:
            rows.append(f"| 350M FSDP bf16 | {name} | {r['error']} |")
        elif r:
            mfu = r.get("mfu")
            rows.append(
                f"| 350M FSDP bf16 | {name} | {_num(r.get('tokens_per_s'), ',.0f')} tok/s, "
                f"MFU {_num(mfu * 100 if mfu else None, '.1f')}%, "
                f"{_num(r.get('peak_mem_gib'), '.1f')} GiB peak |"
            )
    resume = result.get("resume", {})
    if resume and not resume.get("missing"):
        rows.append(
            f"| kill + autoresume | losses within bf16 noise / events identical | "
            f"{resume.get('losses_equal_within_bf16_noise')} / {resume.get('events_identical')} "
            f"(max rel diff {_num(resume.get('max_rel_loss_diff'), '.2e')}) |"
        )
    for step in result.get("steps", []) if isinstance(result.get("steps"), list) else []:
        if step.get("status") != "ok":
            rows.append(f"| step | {step.get('name')} | {step.get('status')} |")
    return rows


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "artifacts/gpu_check")
    result = {
        part: _load(out / (f"{part}.jsonl" if part == "steps" else f"{part}.json"))
        for part in PARTS
    }
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1))
    print("\n".join(table(result)))


if __name__ == "__main__":
    main()
