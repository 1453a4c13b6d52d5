"""The layout's import rules (../shared/style.md), checked on the source with `ast`."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "coverhunter"

# What each library area may import: third-party top-level names and our own areas.
ALLOWED = {
    "audio": ({"torch", "torchaudio", "nnAudio", "numpy", "scipy", "soundfile"}, set()),
    # schemas, readers, samplers, features, the feature store: never a generator (`corpora`)
    "data": ({"pandas", "numpy", "torch", "soundfile", "scipy", "tqdm"}, {"audio", "device"}),
    # the builders of our own collections (FluidSynth runs as a program, not an import); they
    # write what `data` reads (the folder layout, the feature store), so they may use `data`
    "corpora": (
        {"numpy", "pandas", "soundfile", "scipy", "music21", "torch", "tqdm"},
        {"audio", "data"},
    ),
    "model": ({"torch", "torchaudio"}, set()),
    # the one writer and reader of a model folder; nobody else imports safetensors
    "persistence": ({"torch", "safetensors"}, {"model"}),
    "training": ({"torch", "numpy", "mlflow", "tqdm"}, {"model", "data", "device", "persistence"}),
    "alignment": ({"torch", "numpy", "pandas"}, set()),
    # audio: the re-rank's pitch stage makes its chroma from the CQT (audio/chroma.py), as data
    # makes its features; numba: the alignment's inner loops, compiled (alignment_kernel.py)
    "retrieval": ({"faiss", "torch", "numpy", "pandas", "numba"}, {"model", "data", "audio"}),
    "evaluation": (
        {"torch", "numpy", "pandas", "matplotlib", "sklearn", "essentia"},
        {"retrieval"},
    ),
    # evaluation and corpora: a shipped model's card facts are measured by the evaluation's
    # protocol on a slice the synthetic generator renders
    "serving": (
        {"mlflow", "torch", "numpy", "pandas"},
        {"audio", "data", "model", "retrieval", "device", "persistence", "evaluation", "corpora"},
    ),
    "datasets": (
        {"kedro", "fsspec", "numpy", "pandas", "torch", "faiss"},
        {"model", "retrieval", "data", "persistence"},  # data: the feature store it opens
    ),
}
STDLIB_OK = {"__future__"}
KEDRO_OK = {"datasets", "pipelines", "pipeline_registry", "settings", "hooks", "cli", "train"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _area_files(area: str) -> list[Path]:
    return sorted((PACKAGE / area).rglob("*.py"))


def _is_stdlib(name: str) -> bool:
    import sys

    return name.split(".", maxsplit=1)[0] in sys.stdlib_module_names or name in STDLIB_OK


@pytest.mark.parametrize("area", sorted(ALLOWED))
def test_library_areas_import_only_what_the_layout_allows(area):
    third_party, ours = ALLOWED[area]
    problems = []
    for path in _area_files(area):
        for name in _imports(path):
            top = name.split(".")[0]
            if _is_stdlib(name):
                continue
            if top == "coverhunter":
                parts = name.split(".")
                other = parts[1] if len(parts) > 1 else ""
                if other != area and other not in ours:
                    problems.append(f"{path.relative_to(PACKAGE)} imports {name}")
            elif top not in third_party:
                problems.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not problems, "\n".join(problems)


def test_only_wiring_imports_kedro():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        area = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if area in KEDRO_OK:
            continue
        if any(
            name.split(".")[0] in {"kedro", "kedro_datasets", "kedro_mlflow"}
            for name in _imports(path)
        ):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert not offenders, offenders


def test_pipelines_do_not_import_each_other():
    offenders = []
    for path in (PACKAGE / "pipelines").rglob("*.py"):
        own = path.relative_to(PACKAGE / "pipelines").parts[0]
        for name in _imports(path):
            parts = name.split(".")
            if parts[:2] == ["coverhunter", "pipelines"] and len(parts) > 2 and parts[2] != own:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not offenders, offenders
