"""Atomic file writes (a killed job never leaves a file that looks complete) and file digests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from wtal.errors import InputFileError, WtalError


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import (setting the umask to read it is not thread-safe).
UMASK = _read_umask()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success.

    An operating-system error (a full disk, a read-only folder) names ``path``, not the
    temporary file, and not nothing (a failed ``write`` carries no file name)."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _naming(exc, target) from exc
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~UMASK)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):
            raise _naming(exc, target) from exc
        raise


def _naming(exc: OSError, target: Path) -> OSError:
    """The same error, naming ``target`` (``OSError(errno, ...)`` picks the subclass). numpy
    reports a short write ("N requested and M written": a full disk, a file-size limit)
    with no error number: it is named too."""
    if exc.errno is None:
        return OSError(None, f"{exc} (disk full?)", os.fspath(target))
    return OSError(exc.errno, exc.strerror, os.fspath(target))


@contextlib.contextmanager
def naming(path: str | os.PathLike[str]) -> Iterator[None]:
    """Give an operating-system error raised without a file name (a ``write`` or ``fsync``
    on a full disk) the name of ``path``, so that the message names it."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise _naming(exc, Path(path)) from exc


def write_json(path: str | os.PathLike[str], data: Any, indent: int | None = 1) -> None:
    """Write ``data`` as JSON atomically (NaN is refused: it is not JSON)."""
    with atomic_open(path, "w") as handle:
        json.dump(data, handle, indent=indent, allow_nan=False)
        handle.write("\n")


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_npy(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write one array as ``.npy`` atomically, without pickles."""
    with atomic_open(path, "wb") as handle:
        np.save(handle, np.asarray(array), allow_pickle=False)


def link_or_copy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Make ``target`` hold the bytes of ``source``, atomically: a hard link (no second copy
    of a large checkpoint), or a copy where the file system has none. ``target`` gets the
    time of now either way (build tools compare it with its inputs)."""
    target = Path(target)
    if target.exists() and os.path.samefile(source, target):
        os.utime(target)
        return
    tmp = target.with_name(f".{target.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        with open(source, "rb") as data, atomic_open(target, "wb") as handle:
            shutil.copyfileobj(data, handle)
        return
    os.replace(tmp, target)
    os.utime(target)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def refuse_duplicate_keys(path: str | os.PathLike[str]):
    """An ``object_pairs_hook`` refusing two equal keys in one JSON object, naming ``path``."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                # json.load keeps the last of two equal keys: a silently lost entry.
                raise InputFileError(path, f"duplicate key {key!r} in one JSON object")
            out[key] = value
        return out

    return hook


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file, refusing what Python's decoder would accept silently or with a traceback:
    two equal keys in one object (the last would win), and nesting too deep to decode."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle, object_pairs_hook=refuse_duplicate_keys(path))
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except IsADirectoryError:
        raise InputFileError(path, "is a directory, not a JSON file") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON ({exc})") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"not UTF-8 text (byte {exc.start})") from None
    except InputFileError:
        raise  # two equal keys (the hook's own message)
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise InputFileError(path, f"not valid JSON ({exc})") from None
    except RecursionError:
        raise InputFileError(path, "JSON nested too deeply to read") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def read_text(path: str | os.PathLike[str]) -> str:
    """A UTF-8 text file; a missing file, a folder or other bytes are an error naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except IsADirectoryError:
        raise InputFileError(path, "is a directory, not a text file") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None


class BusyError(WtalError):
    """Another process holds the lock of an output: running on would mix two runs' files."""


@contextlib.contextmanager
def exclusive_lock(lock: str | os.PathLike[str], what: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` (made if missing, left in place: removing
    a lock file races with the next taker) while writing ``what``; another process holding it
    is refused at once (``BusyError`` naming ``what`` and that process), never waited for.

    ``flock`` locks are the kernel's: they die with their process, so a killed run never
    leaves ``what`` locked; they hold across NFSv4 clients too."""
    import fcntl

    path = Path(lock)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # held open for the lock's lifetime
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise BusyError(
                f"{os.fspath(what)}: another wtal run (pid {holder}) is writing it; wait for "
                "it to end, or write to another output"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
