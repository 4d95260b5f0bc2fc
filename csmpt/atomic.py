"""Atomic writes: a file or folder appears under its final name only once it is whole.

One durability rule for every file csmpt writes in place of an older one: the bytes go to a
temporary file in the same folder, are flushed and ``fsync``-ed, the file is renamed onto its
final name (``os.replace``, atomic on POSIX) and the folder is ``fsync``-ed so the rename itself
survives a power loss. A reader sees the old file or the new one, never a mix; a kill (even
``SIGKILL``) at any point leaves the old file as it was.

* Modes follow the umask, as a plain ``open()`` would make them (``tempfile.mkstemp`` makes
  ``0600`` files and ``mkdtemp`` ``0700`` folders, unreadable to the rest of a project group).
* A temporary file is named ``.<name>.partial-<host>-<pid>-<hex>``: hidden, and with a suffix no
  reader matches (``*.json``, ``*.npy``...). The next write of the same file removes those a
  killed writer of this host left (their process is gone).
* :func:`write_atomically` serves writers that need a path ending like the final name (Composer's
  checkpoint writer picks the format by suffix; ``numpy.save`` adds ``.npy``): its temporary file
  is ``.partial-<pid>-<name>`` (:data:`PARTIAL_PREFIX`; ``csmpt train`` quarantines leftovers).

This module is the only place in csmpt that renames onto a final name (a test checks it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = [
    "PARTIAL_PREFIX",
    "check_replaceable",
    "commit",
    "copy_file",
    "dead_writer",
    "file_in_the_way",
    "fsync_dir",
    "make_temp_dir",
    "open_atomic",
    "publish_dir",
    "recover_dir",
    "remove_temp_files",
    "replace_dir",
    "replace_symlink",
    "temp_path",
    "write_atomically",
    "write_bytes",
    "write_json",
    "write_jsonl",
    "write_text",
]

log = logging.getLogger(__name__)

PARTIAL_PREFIX = ".partial-"  # write_atomically's temporary files (quarantined by csmpt train)
_TEMP_MARK = ".partial-"  # .<name>.partial-<host>-<pid>-<hex>
_OLD_MARK = ".old-"  # .<name>.old-<host>-<pid>: replace_dir's previous copy, for a moment


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk; skipped where the system cannot."""
    with contextlib.suppress(OSError):  # some file systems cannot open a folder for fsync
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _host() -> str:
    return socket.gethostname().replace("-", "_").replace("/", "_") or "host"


def temp_path(final: Path) -> Path:
    """A fresh hidden temporary name beside ``final`` (not created)."""
    final = Path(final)
    tag = f"{_host()}-{os.getpid()}-{secrets.token_hex(4)}"
    return final.with_name(f".{final.name}{_TEMP_MARK}{tag}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(final: Path) -> None:
    """Remove the temporary files of ``final`` that killed writers of this host left."""
    prefix = f".{final.name}{_TEMP_MARK}{_host()}-"
    with contextlib.suppress(OSError):
        for entry in os.scandir(final.parent):
            if not entry.name.startswith(prefix):
                continue
            pid = entry.name[len(prefix) :].split("-", 1)[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def remove_temp_files(folder: Path) -> int:
    """Remove every temporary file of this module's writers in ``folder``; returns how many.

    Only for a folder no other process writes in (e.g. a split an MDS writer resumes in).
    """
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            name = entry.name
            temp = name.startswith(".") and _TEMP_MARK in name[1:]
            if (temp or name.startswith(PARTIAL_PREFIX)) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def commit(temp: Path, final: Path) -> None:
    """Put a finished temporary file in place: fsync it, rename it onto ``final``, fsync the folder.

    ``temp`` must be in ``final``'s folder (a rename cannot cross file systems).
    """
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)
    fsync_dir(Path(final).parent)


@contextlib.contextmanager
def open_atomic(
    path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the block ends without an error.

    Args:
        path: The final file (its folder is created).
        mode: ``"w"`` (text) or ``"wb"`` (bytes).
        encoding: Text encoding (ignored for bytes).
        newline: As for :func:`open` (text).

    On an error the temporary file is removed and ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"open_atomic: mode {mode!r} is not 'w' or 'wb'")
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(final)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        if mode == "wb":
            f: IO[Any] = os.fdopen(fd, "wb")
        else:
            f = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with f:
            yield f
            f.flush()
        commit(temp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _remove_stale(final)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    with open_atomic(path, "wb") as f:
        f.write(data)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically and durably."""
    with open_atomic(path, "w", encoding=encoding, newline="") as f:
        f.write(text)


def write_json(path: str | Path, obj: Any, indent: int | None = None, **dumps: Any) -> None:
    """Replace ``path`` with ``json.dumps(obj, indent=indent, **dumps)`` and a newline."""
    write_text(path, json.dumps(obj, indent=indent, **dumps) + "\n")


def write_jsonl(path: str | Path, records: Iterable[Any]) -> None:
    """Replace ``path`` with one JSON line per record (streamed: any number of records)."""
    with open_atomic(path, "w", newline="") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")


def copy_file(src: str | Path, dst: str | Path) -> None:
    """Copy ``src`` onto ``dst`` atomically and durably (``dst`` gets a umask mode)."""
    with open_atomic(dst, "wb") as out, Path(src).open("rb") as inp:
        shutil.copyfileobj(inp, out, 1 << 20)


def write_atomically(write: Callable[[str], None], filename: str | Path) -> None:
    """Call ``write(path)`` on a partial name next to ``filename``, then move it into place.

    For writers that need a path ending like the final name (the format follows the suffix).

    Args:
        write: Writes the whole file to the path it is given.
        filename: The final name; it exists only once the file is complete and on disk.
    """
    final = Path(filename)
    partial = final.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{final.name}")
    try:
        write(str(partial))
        commit(partial, final)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def dead_writer(tag: str) -> bool:
    """Whether a leftover's ``<host>-<pid>[-...]`` (or bare ``<pid>``) names a dead process here.

    Another host's writer cannot be checked: its leftovers are kept.
    """
    head = tag.split("-")
    if len(head) == 1 and head[0].isdigit():  # the old naming, .<name>.old-<pid>
        return not _pid_alive(int(head[0]))
    if len(head) >= 2 and head[0] == _host() and head[1].isdigit():
        return not _pid_alive(int(head[1]))
    return False


def recover_dir(target: Path) -> list[str]:
    """Clean up after a folder writer (:func:`make_temp_dir` + :func:`replace_dir`) killed here.

    * ``.<target>.old-*`` of a dead process: a kill between :func:`replace_dir`'s two renames
      left the previous copy hidden and no ``target``: it is moved back; with a ``target`` in
      place it is removed;
    * ``.<target>.partial-*`` folders of dead processes (a killed build, model-sized) are removed.

    Returns:
        One line per thing done, for the caller to log.
    """
    target = Path(target)
    done: list[str] = []
    try:
        entries = sorted(os.scandir(target.parent), key=lambda e: e.name)
    except FileNotFoundError:
        return done
    for entry in entries:
        for mark, restore in ((_OLD_MARK, True), (_TEMP_MARK, False)):
            prefix = f".{target.name}{mark}"
            if not entry.name.startswith(prefix) or not entry.is_dir(follow_symlinks=False):
                continue
            if not dead_writer(entry.name[len(prefix) :]):
                continue
            path = Path(entry.path)
            if restore and not target.exists():
                os.replace(path, target)
                fsync_dir(target.parent)
                done.append(f"restored {target} from {path.name} (a replace was killed midway)")
            else:
                shutil.rmtree(path, ignore_errors=True)
                done.append(f"removed {path} (left by a killed writer)")
    return done


def make_temp_dir(target: Path) -> Path:
    """Create a fresh hidden folder beside ``target`` (mode from the umask) to build it in.

    First cleans up what a killed earlier writer of ``target`` left (:func:`recover_dir`).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for line in recover_dir(target):
        log.warning("%s", line)
    while True:
        new = temp_path(target)
        try:
            os.mkdir(new, 0o777)  # umask applies (tempfile.mkdtemp would make it 0700)
            return new
        except FileExistsError:
            continue


def _fsync_tree(folder: Path) -> None:
    """Fsync every file and folder under ``folder`` (cheap for files already on disk)."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(root))


def file_in_the_way(path: str | Path) -> Path | None:
    """The file at ``path`` or above it where a folder was needed, if there is one."""
    p = Path(path)
    for q in (p, *p.parents):
        if q.exists() and not q.is_dir():
            return q
    return None


def check_replaceable(target: Path, marks: Sequence[str], what: str, kind: str) -> None:
    """Refuse a ``target`` that writing an output there (replacing it whole) would lose.

    ``target`` may be absent, an empty folder, or an earlier output of the same kind: a folder
    holding one of ``marks`` (the files every such output has). A file, or a folder of other
    things (the project's ``data/``, ``.``: a tired user's ``output_dir``), is refused.

    Args:
        target: The output folder.
        marks: File or folder names an earlier output of this kind has.
        what: How the user named it (``filter config: output_dir``, ``--out``), for the message.
        kind: What the output is (``classifier``, ``tokenizer``), for the message.

    Raises:
        DataError: ``target`` is a file, or a non-empty folder with none of ``marks``.
    """
    from csmpt.errors import DataError

    target = Path(target)
    if not target.exists():
        return
    if not target.is_dir():
        raise DataError(
            f"{what} '{target}' is a file, not a folder; name a new folder "
            f"(or an earlier {kind} folder to replace)"
        )
    if any((target / m).exists() for m in marks) or not any(target.iterdir()):
        return
    raise DataError(
        f"{what} '{target}' is a folder with other files and no {kind} in it; writing the "
        f"{kind} would replace it whole: name a new folder"
    )


def replace_dir(new: Path, target: Path, marks: Sequence[str], kind: str) -> None:
    """Move ``new`` to ``target``; an older ``target`` is removed only once ``new`` is in place.

    ``new`` must be on the same file system as ``target`` (a temp folder beside it), so each
    move is an atomic rename: a reader sees the old folder or the new one, never a mix. Every
    file in ``new`` is ``fsync``-ed before the move and the parent folder after it. A ``target``
    that is not an earlier output of this kind (``marks``, ``kind``: :func:`check_replaceable`,
    which callers also call before their work) is refused, never replaced.
    """
    check_replaceable(target, marks, "output folder", kind)
    _fsync_tree(new)
    if target.exists():
        old = target.with_name(f".{target.name}{_OLD_MARK}{_host()}-{os.getpid()}")
        os.replace(target, old)
        os.replace(new, target)
        fsync_dir(target.parent)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)
        fsync_dir(target.parent)


def publish_dir(new: Path, target: Path) -> bool:
    """Move a finished folder ``new`` to ``target`` unless another writer made ``target`` first.

    For outputs that several processes may build at once (every rank the same): the first
    rename wins, the others find ``target`` in place and drop their copy.

    Returns:
        True if ``new`` became ``target``; False if ``target`` existed (``new`` is removed).
    """
    _fsync_tree(new)
    try:
        os.rename(new, target)  # fails on an existing non-empty folder: never replaces one
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(new, ignore_errors=True)
        return False
    fsync_dir(target.parent)
    return True


def replace_symlink(link: Path, target: Path) -> None:
    """Make ``link`` a relative symlink to ``target``, replacing any old link atomically."""
    tmp = link.with_name(f".link-{os.getpid()}-{link.name}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.path.relpath(target, link.parent), tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)
