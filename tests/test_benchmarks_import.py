"""Every benchmark script imports and parses its default arguments.

The benchmarks are run by hand (their figures go to benchmarks/README.md, never into
assertions), so nothing else would notice a script broken by a change to a module it imports.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# A leading underscore marks a module the scripts share (`_catalog.py`), not a script: it has no
# main, and the scripts that import it check it here.
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


def test_there_are_benchmarks():
    assert {p.stem for p in SCRIPTS} >= {
        "alignment",
        "cqt",
        "indexing_throughput",
        "query_latency",
        "training_throughput",
    }


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_benchmark_imports_and_parses_its_defaults(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import one another by name
    monkeypatch.setattr(sys, "argv", [script.name])
    spec = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)  # runs the imports, not main()
    assert callable(module.main)
    if hasattr(module, "parse_args"):
        args = module.parse_args()
        assert vars(args)  # the defaults parse
