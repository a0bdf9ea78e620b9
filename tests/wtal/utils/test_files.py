"""Atomic writes: a failure leaves the old file (or nothing), never a partial one; exclusive
locks: one writer per output, across processes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from wtal.errors import InputFileError
from wtal.utils.files import atomic_open, read_json, write_json, write_npy


def test_failed_write_leaves_previous_content_and_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, {"a": 1})
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write('{"half": ')
        raise RuntimeError("killed")
    assert path.read_text() == '{\n "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_nan_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ValueError):
        write_json(tmp_path / "m.json", {"x": float("nan")})
    assert not any(tmp_path.iterdir())


def test_npy_round_trip_and_permissions(tmp_path):
    write_npy(tmp_path / "sub" / "f.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
    assert np.load(tmp_path / "sub" / "f.npy").tolist() == [[0, 1, 2], [3, 4, 5]]
    assert (tmp_path / "sub" / "f.npy").stat().st_mode & 0o044  # readable by others (umask)


def test_read_json_refuses_duplicate_keys_naming_the_file(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text('{"database": {"v1": {"subset": "test"}, "v1": {"subset": "validation"}}}')
    with pytest.raises(InputFileError, match=r"gt\.json: duplicate key 'v1'"):
        read_json(path)


def test_read_json_refuses_absurd_nesting_and_bad_bytes_in_one_line(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputFileError, match=r"deep\.json: JSON nested too deeply"):
        read_json(deep)
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"caf\xe9": 1}'.encode("latin-1"))
    with pytest.raises(InputFileError, match=r"latin\.json: not UTF-8 text"):
        read_json(latin)
    with pytest.raises(InputFileError, match="is a directory"):
        read_json(tmp_path)


def test_read_json_keeps_nested_objects(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text('{"a": {"b": [1, {"c": null}]}, "d": 2.5}')
    assert read_json(path) == {"a": {"b": [1, {"c": None}]}, "d": 2.5}


def test_a_failed_write_names_the_target_not_the_temporary(tmp_path, monkeypatch):
    import errno

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")  # as os.fsync reports it

    monkeypatch.setattr("os.fsync", full_disk)
    with pytest.raises(OSError) as caught:
        write_json(tmp_path / "metrics.json", {"a": 1})
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(tmp_path / "metrics.json")
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_a_read_only_folder_names_the_target(tmp_path, monkeypatch):
    import errno

    def read_only(prefix, suffix, dir):  # what mkstemp raises in a read-only folder
        raise OSError(errno.EROFS, "Read-only file system", f"{dir}/{prefix}abc{suffix}")

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    with pytest.raises(OSError) as caught:
        write_json(tmp_path / "out.json", {})
    assert caught.value.errno == errno.EROFS
    assert caught.value.filename == str(tmp_path / "out.json")


HOLD_LOCK = """
import sys
from wtal.utils.files import exclusive_lock
with exclusive_lock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_an_exclusive_lock_held_by_another_process_is_refused_naming_the_output(tmp_path):
    import subprocess
    import sys

    from wtal.utils.files import BusyError, exclusive_lock

    lock, output = tmp_path / "out" / ".a.lock", tmp_path / "out" / "a.npy"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock), str(output)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BusyError) as refused, exclusive_lock(lock, output):
            pytest.fail("two processes held one lock")
        assert str(refused.value).startswith(f"{output}: another wtal run (pid {holder.pid})")
    finally:
        holder.communicate("\n", timeout=30)
    # released when its holder ends (also when killed: the kernel's lock dies with it); then
    # the same process takes it again at will, the file left in place
    with exclusive_lock(lock, output):
        assert lock.read_text() == f"{os.getpid()}\n"
    with exclusive_lock(lock, output):
        pass
    assert lock.is_file()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path):
    import signal
    import subprocess
    import sys

    from wtal.utils.files import exclusive_lock

    lock, output = tmp_path / ".a.lock", tmp_path / "a.npy"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock), str(output)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with exclusive_lock(lock, output):
        pass


def test_read_json_names_the_file_of_an_integer_too_long_to_convert(tmp_path):
    """Python refuses integers of more than 4,300 digits with a ValueError naming no file."""
    path = tmp_path / "big.json"
    path.write_text('{"score": ' + "9" * 5000 + "}")
    with pytest.raises(InputFileError, match=rf"^{path}: not valid JSON \(.*4300 digits"):
        read_json(path)


SHORT_WRITE = """
import resource, signal, sys
import numpy as np
from wtal.cli import describe_os_error
from wtal.utils.files import write_npy
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))
try:
    write_npy(sys.argv[1], np.zeros((100, 1024), np.float32))
except OSError as exc:
    print(describe_os_error(exc))
"""


def test_a_write_cut_short_names_the_file(tmp_path):
    """numpy reports a short write as "N requested and M written" with no file name (a full
    disk while writing rgb.npy said only that)."""
    target = tmp_path / "rgb.npy"
    done = subprocess.run(
        [sys.executable, "-c", SHORT_WRITE, str(target)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    assert message.startswith(f"{target}: ") and "written" in message and "disk full" in message
    assert list(tmp_path.iterdir()) == []  # no temporary left behind
