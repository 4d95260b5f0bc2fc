"""The import closure bench/gpu_check.sh needs on the GPU image, computed by trying it.

Two modes:

* ``probe``: run under the image's Python with the carried wheels' folder on ``PYTHONPATH`` (the
  repository first). Imports everything the check imports (:data:`MODULES` and the test files that
  hold GPU tests) and prints one JSON line per import: ``{"module", "ok", "error", "where",
  "needs"}``, where ``needs`` is the top-level module or distribution that has to be carried to
  fix it (``null`` when the error names none). Exit 0 when all import, 1 otherwise.
* ``solve``: start from the wheels already in ``--wheels``, install them with ``pip --no-deps
  --no-index --target`` into a scratch folder, probe with ``--image-python``, download the wheel of
  each distribution the failures name (the version pinned in this venv, a CPython 3.12 manylinux
  wheel; a pure-Python package without one is built here), and repeat until everything imports.
  Writes ``requirements-gpu.txt`` (each line with the import failure that brought it in) beside
  the wheels folder and prints the closure and its size.

    python bench/gpu_closure.py probe
    python bench/gpu_closure.py solve --image-python IMG/bin/python --wheels OUT/wheels
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# What the check imports: the stack, csmpt's trainer and the components the check's parts use.
MODULES = (
    "composer",
    "streaming",
    "transformers",
    "llmfoundry",
    "llmfoundry.command_utils",
    "llmfoundry.models.mpt",
    "llmfoundry.optim",
    "lion_pytorch",  # its .triton kernel needs a GPU driver to import; the image has triton
    "triton",
    "csmpt.training",
    "csmpt.callbacks.hot_swap",
    "csmpt.optim.lionw",
    "csmpt.models.mpt",
    "csmpt.models.alibi_attention",
    "csmpt.models.flex_attention",
    "csmpt.run_folder",
    # Imported inside functions, so no module import above finds them: reading any JSONL corpus
    # (the GPU tests train a tokenizer; the image lacks it: "No module named 'zstandard'",
    # 2026-12-04).
    "zstandard",
)
PLATFORM = [
    "--python-version", "3.12", "--implementation", "cp",
    "--abi", "cp312", "--abi", "abi3", "--abi", "none",
    "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
    "--platform", "manylinux_2_27_x86_64", "--platform", "manylinux_2_28_x86_64",
    "--platform", "any",
]  # fmt: skip
# transformers' import-time version check: "huggingface-hub>=0.30.0,<1.0 is required for a
# normal functioning of this module, but found huggingface-hub==1.33.0."
_VERSION_CHECK = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)\s*[<>=!~].* is required .* but found")
_NO_ATTRIBUTE = re.compile(r"module '([\w.]+)' has no attribute")
# Carried whatever the image has: llm-foundry 0.22.0 needs transformers 4.51 (the image's 5.x
# imports, then fails in training: "'MPTConfig' object has no attribute 'pad_token_id'", the
# first real GPU check, 2026-12-03), and transformers 4.51 needs its own tokenizers and hub.
PINNED = ("transformers", "tokenizers", "huggingface-hub")
# Parts of a carried wheel nothing imports, left out so the folder fits a device call's 64 MiB:
# mlflow's web UI (23 MB of JavaScript; llm-foundry imports mlflow, never serves it).
SLIM = {"mlflow": ("mlflow/server/js/",)}


def gpu_test_files() -> list[Path]:
    """The test files that hold ``@pytest.mark.gpu`` tests (what ``pytest -m gpu`` collects)."""
    return sorted(
        p for p in (REPO / "tests").rglob("test_*.py") if "pytest.mark.gpu" in p.read_text()
    )


def _needs(error: BaseException) -> str | None:
    """The top-level module or distribution an import failure names, if any."""
    if isinstance(error, ModuleNotFoundError) and error.name:
        return error.name
    text = str(error)
    match = _VERSION_CHECK.match(text)
    if match:
        return match.group(1)
    if isinstance(error, ImportError) and error.name:  # cannot import name X from 'pkg.mod'
        return error.name
    match = _NO_ATTRIBUTE.search(text)
    if match:
        return match.group(1).split(".")[0]
    return None


_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")


def _deeper(error: BaseException) -> BaseException | None:
    """Why ``from M import X`` found no X, when M hides a failed import of its own.

    mlflow's ``mlflow/models/__init__.py`` imports ``ModelInputExample`` inside ``try: ...
    except ImportError: pass``: the error names mlflow, not the module that is missing. Import
    the submodules M's ``__init__`` imports, and return the first failure that names a module.
    """
    match = _CANNOT_IMPORT.search(str(error))
    if not match:
        return None
    name, module = match.groups()
    try:
        package = importlib.import_module(module)
    except BaseException:  # noqa: BLE001
        return None
    init: str | None = getattr(package, "__file__", None)
    if init is None or not init.endswith("__init__.py"):
        return None
    # The submodules its __init__ imports, in order (the failing one sits in a swallowed try).
    source = Path(init).read_text(errors="ignore")
    pattern = rf"^\s*from ({re.escape(module)}(?:\.\w+)+) import"
    for sub in dict.fromkeys(re.findall(pattern, source, re.M)):
        try:
            importlib.import_module(sub)
        except BaseException as e:  # noqa: BLE001
            if _needs(e):
                return e
    return None


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "importlib" not in f.filename] or frames
    return f"{ours[-1].filename}:{ours[-1].lineno}" if ours else "?"


def probe() -> int:
    """Import every module of the check; one JSON line per import; 0 when all import."""
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    failed = 0
    targets: list[tuple[str, Any]] = [(m, None) for m in MODULES]
    targets += [(str(p.relative_to(REPO)), p) for p in gpu_test_files()]
    # As pytest imports them: each test's folder on sys.path (its sibling modules), and tools/.
    sys.path[:0] = sorted({str(p.parent) for _, p in targets if p is not None}) + [
        str(REPO / "tools")
    ]
    for name, path in targets:
        row: dict[str, Any] = {"module": name, "ok": True}
        try:
            if path is None:
                row["file"] = getattr(importlib.import_module(name), "__file__", None)
            else:
                spec = importlib.util.spec_from_file_location(f"_gpu_test_{path.stem}", path)
                assert spec is not None and spec.loader is not None
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
        except BaseException as e:  # noqa: BLE001 - every failure is a row
            failed += 1
            deeper = _deeper(e)
            if deeper is not None and _needs(deeper):
                e = deeper
            row = {
                "module": name,
                "ok": False,
                "error": f"{type(e).__name__}: {e}"[:500],
                "where": _where(e),
                "needs": _needs(e),
            }
        print(json.dumps(row), flush=True)
    return 1 if failed else 0


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distribution(needs: str, carried: frozenset[str] = frozenset()) -> str | None:
    """The distribution of this venv that provides ``needs`` (a module or a distribution).

    Of several (a namespace package such as ``opentelemetry``, or ``mlflow``, which both mlflow
    and mlflow-skinny install) the ones whose files hold that very module, not yet carried, and
    of those the smallest: mlflow-skinny, not mlflow's 29 MB wheel.
    """
    owners = md.packages_distributions().get(needs.split(".")[0])
    if not owners:
        try:
            return md.metadata(needs)["Name"]
        except md.PackageNotFoundError:
            return None
    path = needs.replace(".", "/")
    files = {o: [str(f) for f in md.files(o) or []] for o in set(owners)}
    holding = [
        o for o in files if any(f.startswith(path + "/") or f == path + ".py" for f in files[o])
    ]
    fresh = [o for o in holding or list(files) if _norm(o) not in carried]
    return min(fresh or holding or list(files), key=lambda o: len(files[o]))


def _carried(wheels: Path) -> set[str]:
    return {_norm(w.name.split("-")[0]) for w in wheels.glob("*.whl")}


def fetch_wheel(requirement: str, wheels: Path) -> str:
    """Put a CPython 3.12 manylinux wheel of ``requirement`` (NAME==VERSION) into ``wheels``.

    Returns how: the pinned wheel, a pure-Python wheel built here, or the newest earlier release
    with such a wheel. Raises ``RuntimeError`` when none of those exists.
    """
    pip = [sys.executable, "-m", "pip"]
    quiet = {"capture_output": True, "text": True}
    get = [*pip, "download", "-q", "--no-deps", "--only-binary=:all:", *PLATFORM, "-d", str(wheels)]
    if subprocess.run([*get, requirement], **quiet).returncode == 0:  # type: ignore[call-overload]
        return "wheel"
    with tempfile.TemporaryDirectory() as tmp:
        built = subprocess.run(  # type: ignore[call-overload]
            [*pip, "wheel", "-q", "--no-deps", "-w", tmp, requirement], **quiet
        )
        pure = list(Path(tmp).glob("*-none-any.whl"))
        if built.returncode == 0 and pure:
            shutil.move(str(pure[0]), wheels / pure[0].name)
            return "built here (pure Python)"
    name, version = requirement.split("==")
    if subprocess.run([*get, f"{name}<={version}"], **quiet).returncode == 0:  # type: ignore[call-overload]
        return "an earlier release (no CPython 3.12 wheel of this one)"
    raise RuntimeError(f"{requirement}: no CPython 3.12 wheel and not pure Python")


def slim_wheel(wheel: Path, prefixes: tuple[str, ...]) -> int:
    """Rewrite ``wheel`` without the files under ``prefixes`` (and their RECORD lines).

    Returns the bytes saved. pip installs such a wheel as any other (it checks no hashes of
    files that are absent from both the archive and its RECORD).
    """
    before = wheel.stat().st_size
    slim = wheel.with_suffix(".slim")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename.startswith(prefixes):
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(ln for ln in lines if not ln.startswith(prefixes)).encode()
            dst.writestr(info, data)
    slim.replace(wheel)
    return before - wheel.stat().st_size


def carry(requirement: str, wheels: Path) -> str:
    """:func:`fetch_wheel`, then :func:`slim_wheel` where :data:`SLIM` names the distribution."""
    how = fetch_wheel(requirement, wheels)
    name = _norm(requirement.split("==")[0])
    for wheel in wheels.glob("*.whl"):
        if _norm(wheel.name.split("-")[0]) == name and name in SLIM:
            saved = slim_wheel(wheel, SLIM[name])
            how += f", {saved / 2**20:.0f} MB of {', '.join(SLIM[name])} left out"
    return how


def install(image_python: str, wheels: Path, target: Path) -> None:
    """``pip install --no-deps --no-index --target`` every wheel, as the GPU image will."""
    shutil.rmtree(target, ignore_errors=True)
    cmd = [image_python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-compile"]
    cmd += ["--target", str(target), *map(str, sorted(wheels.glob("*.whl")))]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def run_probe(image_python: str, target: Path) -> list[dict[str, Any]]:
    """This file's ``probe`` under the image's Python with ``target`` behind the repository."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{target}", "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONHOME", None)
    proc = subprocess.run(
        [image_python, __file__, "probe"], env=env, cwd=REPO, capture_output=True, text=True
    )
    rows = [json.loads(line) for line in proc.stdout.split("\n") if line.startswith("{")]
    if not rows:
        raise RuntimeError(f"the probe printed nothing: {proc.stderr[-2000:]}")
    return rows


def solve(args: argparse.Namespace) -> int:
    """Add wheels until the probe imports everything; write the requirements; print the closure."""
    wheels: Path = args.wheels
    wheels.mkdir(parents=True, exist_ok=True)
    reasons: dict[str, str] = {}
    for dist in PINNED:
        if _norm(dist) not in _carried(wheels):
            requirement = f"{dist}=={md.version(dist)}"
            how = carry(requirement, wheels)
            reasons[requirement] = "pinned: the image's own version does not train llm-foundry"
            print(f"   + {requirement} [{how}]: {reasons[requirement]}", flush=True)
    for round_ in range(1, args.max_rounds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "site"
            install(args.image_python, wheels, target)
            rows = run_probe(args.image_python, target)
        failures = [r for r in rows if not r["ok"]]
        print(f"round {round_}: {len(rows) - len(failures)}/{len(rows)} import", flush=True)
        if not failures:
            break
        added = 0
        carried = _carried(wheels)
        handled: set[str] = set()  # one wheel per missing module a round, however many rows
        for row in failures:
            if row["needs"] in handled:
                continue
            handled.add(row["needs"])
            dist = _distribution(row["needs"], frozenset(carried)) if row["needs"] else None
            if dist is None or _norm(dist) in carried:
                continue
            requirement = f"{dist}=={md.version(dist)}"
            how = carry(requirement, wheels)
            carried.add(_norm(dist))
            reasons[requirement] = f"{row['module']}: {row['error'][:160]} ({row['where']})"
            print(f"   + {requirement} [{how}]: {reasons[requirement]}", flush=True)
            added += 1
        if not added:
            print("cannot fix these imports by carrying a wheel:", file=sys.stderr)
            for row in failures:
                print(f"   {row['module']}: {row['error']} ({row['where']})", file=sys.stderr)
            return 1
    else:
        print(f"still failing after {args.max_rounds} rounds", file=sys.stderr)
        return 1
    lines = []
    for wheel in sorted(wheels.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        req = next((r for r in reasons if _norm(r.split("==")[0]) == _norm(name)), None)
        why = reasons.get(req, "seed") if req else "seed"
        lines.append(f"{name}=={version}  # {wheel.stat().st_size / 2**20:.1f} MiB; {why}")
    (wheels.parent / "requirements-gpu.txt").write_text("\n".join(lines) + "\n")
    total = sum(w.stat().st_size for w in wheels.glob("*.whl"))
    print(f"closure: {len(lines)} wheels, {total / 2**20:.1f} MiB")
    for line in lines:
        print(f"   {line.split(';')[0]}")
    return 0


def main() -> None:
    """``probe`` or ``solve`` (see the module's docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["probe", "solve"])
    parser.add_argument("--image-python", help="a Python with only the GPU image's packages")
    parser.add_argument("--wheels", type=Path, help="the carried wheels' folder (seeded)")
    parser.add_argument("--max-rounds", type=int, default=80)
    args = parser.parse_args()
    if args.mode == "probe":
        raise SystemExit(probe())
    if not args.image_python or not args.wheels:
        parser.error("solve needs --image-python and --wheels")
    raise SystemExit(solve(args))


if __name__ == "__main__":
    main()
