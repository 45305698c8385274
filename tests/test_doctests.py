"""Every `Examples:` section of every docstring in the package runs as a doctest.

The examples show what a user sees with JAX's defaults, so they run with float64 off (the rest of
the suite turns it on in conftest.py) and with matplotlib's non-interactive backend.
"""

import doctest
import importlib
import pkgutil

import jax
import matplotlib
import pytest

import jaxrsa

matplotlib.use("Agg")

MODULES = sorted(info.name for info in pkgutil.walk_packages(jaxrsa.__path__, prefix="jaxrsa."))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _docstrings(module):
    """(qualified name, docstring) of the module and everything defined in it."""
    finder = doctest.DocTestFinder(exclude_empty=False)
    return [(t.name, t.docstring or "") for t in finder.find(module)]


@pytest.fixture
def x64_off():
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    yield
    jax.config.update("jax_enable_x64", before)


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name, x64_off):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(module):  # each docstring sees its module's globals, as testmod
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"


@pytest.mark.parametrize("name", MODULES)
def test_every_examples_section_is_a_doctest(name):
    """An `Examples:` heading with no `>>>` under it would be a section that never runs."""
    module = importlib.import_module(name)
    parser = doctest.DocTestParser()
    silent = [
        qualname
        for qualname, text in _docstrings(module)
        if "Examples:" in text and not parser.get_examples(text.split("Examples:", 1)[1])
    ]
    assert not silent, f"Examples: sections without a doctest in {name}: {silent}"


def test_the_package_has_examples():
    finder = doctest.DocTestFinder()
    counts = {
        name: sum(len(t.examples) for t in finder.find(importlib.import_module(name)))
        for name in ("jaxrsa._first_order", "jaxrsa._pairwise._api", "jaxrsa._mds._mds")
    }
    assert all(counts.values()), counts
