"""What the GPU checks import loads nothing a bare GPU machine lacks.

`tests/test_cuda.py` and `benchmarks/gpu_throughput.py` run on a machine with torch and the
scientific stack plus a few carried wheels (`benchmarks/gpu_check.sh`), without mlflow, Kedro,
music21, essentia or torchaudio. Everything the two files import is imported here in a fresh
interpreter (this one may have loaded mlflow for other tests), and none of those may appear.
"""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GPU_FILES = [ROOT / "tests" / "test_cuda.py", ROOT / "benchmarks" / "gpu_throughput.py"]
# The library modules the training loop, loader, validation and embedding paths rest on.
LIBRARY = [
    "coverhunter.training.loop",
    "coverhunter.training",
    "coverhunter.data.loader",
    "coverhunter.evaluation.collection",
    "coverhunter.retrieval.embed",
]
ABSENT_ON_GPU_MACHINE = {
    "mlflow",
    "kedro",
    "kedro_datasets",
    "kedro_mlflow",
    "music21",
    "essentia",
    "torchaudio",
}


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names - {"__future__"}


def _loaded_after_importing(modules: list[str]) -> set[str]:
    """Top-level names in `sys.modules` of a fresh interpreter after importing `modules`."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_gpu_checks_import_no_mlflow_kedro_music21_essentia_or_torchaudio():
    modules = sorted(set(LIBRARY).union(*(_imported_modules(path) for path in GPU_FILES)))
    assert "coverhunter.serving.query" in modules  # the parse found the files' imports
    loaded = _loaded_after_importing(modules)
    assert "coverhunter" in loaded
    assert not loaded & ABSENT_ON_GPU_MACHINE, sorted(loaded & ABSENT_ON_GPU_MACHINE)
