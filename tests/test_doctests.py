"""The examples in every fca_utils module's docstrings run and print what they show."""
import doctest
import importlib
import pkgutil

import pytest

import fca_utils

MODULES = sorted(m.name for m in pkgutil.iter_modules(fca_utils.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"fca_utils.{name}")
    assert doctest.testmod(module).failed == 0
