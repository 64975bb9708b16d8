"""The examples in every fca_utils module's docstrings run and print what they show."""
import doctest
import importlib
import pkgutil

import pytest

import fca_utils

MODULES = sorted(m.name for m in pkgutil.walk_packages(fca_utils.__path__, "fca_utils.")
                 if not m.name.endswith("__main__"))


def test_every_layer_is_found():
    assert {"fca_utils.core.statistics", "fca_utils.features", "fca_utils.datasets.dataset",
            "fca_utils.evaluation.metrics", "fca_utils.paper.experiments", "fca_utils.cli.localize"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0
