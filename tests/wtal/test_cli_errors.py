"""The command line's error model: a user's mistake (a WtalError) is one line and exit 1; a
bug (any other exception) shows Python's traceback after one line saying so; ``--debug`` or
``WTAL_DEBUG=1`` shows the traceback of every error; Ctrl-C, even one that another error
wraps, is one line and exit 130."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.wtal.test_cli import run_cli
from wtal.cli import INTERRUPTED_STATUS, main
from wtal.commands import dataset_info
from wtal.errors import InputFileError, UsageError, WtalError

INTERNAL = "wtal dataset-info: internal error (a bug in wtal); the traceback follows"

#: Runs ``wtal`` with dataset-info's run replaced by one that raises ``sys.argv[1]``'s error.
FAILING = """
import sys
from wtal.cli import main
from wtal.commands import dataset_info
from wtal.errors import UsageError

def run(args):
    raise {}

dataset_info.run = run
sys.exit(main(sys.argv[1:]))
"""


def run_failing(error: str, *argv: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-c", FAILING.format(error), *argv],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def raising(error: BaseException):
    def run(args):
        raise error

    return run


@pytest.mark.parametrize(
    "error",
    [
        WtalError("no annotations in the file"),
        UsageError("--top 0: must be 1 or more"),
        InputFileError("gt.json", "no annotations in the file"),
    ],
)
def test_a_wtal_error_is_one_line_and_exit_1(monkeypatch, capsys, error):
    monkeypatch.delenv("WTAL_DEBUG", raising=False)
    monkeypatch.setattr(dataset_info, "run", raising(error))
    assert main(["dataset-info", "anything"]) == 1
    assert capsys.readouterr().err == f"wtal dataset-info: error: {error}\n"


def test_a_usage_error_is_a_wtal_error_and_a_value_error():
    # Library callers' ``except ValueError`` keeps catching what used to be a ValueError.
    assert issubclass(UsageError, WtalError) and issubclass(UsageError, ValueError)


def test_a_user_error_from_a_real_command_is_one_line():
    # --tiou is the user's: refused in one line naming the option, no traceback.
    result = run_cli("evaluate", "--ground-truth", "gt.json", "--predictions", "p.json",
                     "--tiou", "0.5,2")  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        "wtal evaluate: error: --tiou: bad tIoU thresholds '0.5,2': each must be in (0, 1]\n"
    )


@pytest.mark.parametrize("error", [ValueError("boom"), TypeError("boom"), KeyError("boom")])
def test_an_unexpected_error_is_not_caught_but_announced(monkeypatch, capsys, error):
    monkeypatch.delenv("WTAL_DEBUG", raising=False)
    monkeypatch.setattr(dataset_info, "run", raising(error))
    with pytest.raises(type(error)) as raised:
        main(["dataset-info", "anything"])
    assert raised.value is error
    err = capsys.readouterr().err
    assert err.startswith(INTERNAL) and len(err.splitlines()) == 1, err


def test_an_unexpected_value_error_shows_its_traceback():
    result = run_failing("ValueError('a bug: shapes (3,) and (4,) differ')", "dataset-info", "x")
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(INTERNAL), result.stderr
    assert lines[1] == "Traceback (most recent call last):", result.stderr
    assert lines[-1] == "ValueError: a bug: shapes (3,) and (4,) differ", result.stderr
    assert "in run" in result.stderr  # the frame that raised it is shown


def test_debug_shows_the_traceback_of_a_wtal_error(monkeypatch):
    monkeypatch.delenv("WTAL_DEBUG", raising=False)
    error = UsageError("--top 0: must be 1 or more")
    monkeypatch.setattr(dataset_info, "run", raising(error))
    with pytest.raises(UsageError) as raised:
        main(["--debug", "dataset-info", "anything"])
    assert raised.value is error


@pytest.mark.parametrize("value", ["1", "yes"])
def test_the_environment_variable_wtal_debug_shows_the_traceback(monkeypatch, value):
    monkeypatch.setenv("WTAL_DEBUG", value)
    error = InputFileError("gt.json", "no annotations in the file")
    monkeypatch.setattr(dataset_info, "run", raising(error))
    with pytest.raises(InputFileError) as raised:
        main(["dataset-info", "anything"])
    assert raised.value is error


@pytest.mark.parametrize("value", ["", "0"])
def test_wtal_debug_empty_or_0_is_off(monkeypatch, capsys, value):
    monkeypatch.setenv("WTAL_DEBUG", value)
    monkeypatch.setattr(dataset_info, "run", raising(UsageError("bad")))
    assert main(["dataset-info", "anything"]) == 1
    assert capsys.readouterr().err == "wtal dataset-info: error: bad\n"


def test_debug_and_wtal_debug_from_the_command_line():
    # A real command and a real user error: a traceback instead of the one line.
    argv = ["evaluate", "--ground-truth", "gt.json", "--predictions", "p.json", "--tiou", "2"]
    plain = run_cli(*argv)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr, plain.stderr
    debug = run_cli("--debug", *argv)
    assert debug.returncode == 1
    assert "Traceback (most recent call last):" in debug.stderr, debug.stderr
    assert debug.stderr.splitlines()[-1].startswith("wtal.errors.UsageError: --tiou: bad tIoU")
    env = run_failing("UsageError('bad option')", "dataset-info", "x",
                      env={**os.environ, "WTAL_DEBUG": "1"})  # fmt: skip
    assert env.returncode == 1
    assert "Traceback (most recent call last):" in env.stderr, env.stderr
    assert env.stderr.splitlines()[-1] == "wtal.errors.UsageError: bad option"


def test_debug_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "--debug" in out and "WTAL_DEBUG" in out


def chained(how: str) -> BaseException:
    """A RuntimeError raised while a KeyboardInterrupt was handled (torch.save's zip writer
    after a Ctrl-C): ``cause`` by ``raise ... from``, ``context`` implicitly, ``deep`` two
    levels down; ``wtal``: a WtalError, which is an interruption too."""
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            if how == "cause":
                raise RuntimeError("[enforce fail at inline_container.cc:595]") from interrupt
            if how == "context":
                raise RuntimeError("[enforce fail at inline_container.cc:595]")  # noqa: B904
            if how == "wtal":
                raise InputFileError("run/last.pt", "cannot be written")  # noqa: B904
            try:
                raise OSError("closing the file")
            except OSError as closing:
                raise ValueError("wrapped") from closing
    except (RuntimeError, ValueError) as exc:  # InputFileError is a ValueError
        return exc
    raise AssertionError("nothing raised")


@pytest.mark.parametrize("how", ["cause", "context", "deep", "wtal"])
def test_an_error_chained_from_a_keyboard_interrupt_is_an_interruption(monkeypatch, capsys, how):
    monkeypatch.delenv("WTAL_DEBUG", raising=False)
    monkeypatch.setattr(dataset_info, "run", raising(chained(how)))
    assert main(["dataset-info", "anything"]) == INTERRUPTED_STATUS == 130
    assert capsys.readouterr().err == (
        "wtal dataset-info: interrupted; outputs already written are complete\n"
    )


def test_a_keyboard_interrupt_is_one_line_and_exit_130(monkeypatch, capsys):
    monkeypatch.delenv("WTAL_DEBUG", raising=False)
    monkeypatch.setattr(dataset_info, "run", raising(KeyboardInterrupt()))
    assert main(["dataset-info", "anything"]) == 130
    assert capsys.readouterr().err == (
        "wtal dataset-info: interrupted; outputs already written are complete\n"
    )


def test_a_chained_error_from_a_subprocess_is_exit_130():
    result = run_failing(
        "RuntimeError('zip writer failed') from KeyboardInterrupt()", "dataset-info", "x"
    )
    assert result.returncode == 130, result.stderr
    assert result.stderr == "wtal dataset-info: interrupted; outputs already written are complete\n"
