"""Every error class of wtal and of extract is a WtalError: the command line reports each as
one line, without a traceback (internal signals too, should one ever escape)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import extract
import wtal
from wtal.errors import UsageError, WtalError


def modules(package: ModuleType) -> list[str]:
    name = package.__name__
    return [name, *(m.name for m in pkgutil.walk_packages(package.__path__, f"{name}."))]


def error_classes(package: ModuleType) -> list[type]:
    found = []
    for name in modules(package):
        module = importlib.import_module(name)
        for _, kind in inspect.getmembers(module, inspect.isclass):
            if issubclass(kind, BaseException) and kind.__module__ == name:
                found.append(kind)
    return found


@pytest.mark.parametrize("package", [wtal, extract], ids=lambda p: p.__name__)
def test_every_error_class_is_a_wtal_error(package):
    found = error_classes(package)
    assert found, "no error classes found"
    assert [k.__qualname__ for k in found if not issubclass(k, WtalError)] == []


def test_the_extract_walk_sees_its_error_classes():
    names = {f"{k.__module__}.{k.__qualname__}" for k in error_classes(extract)}
    assert {"extract.errors.VideoError", "extract.weights.WeightsError"} <= names


def test_a_usage_error_is_also_a_value_error():
    # ``except ValueError`` of library callers (and tests) still catches it.
    error = UsageError("--top 0: must be 1 or more")
    assert isinstance(error, WtalError) and isinstance(error, ValueError)
    assert str(error) == "--top 0: must be 1 or more"


def test_a_weights_error_is_a_wtal_error_and_a_value_error():
    from extract.weights import WeightsError

    assert issubclass(WeightsError, WtalError) and issubclass(WeightsError, ValueError)
