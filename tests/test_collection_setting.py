"""Where `collection` is set decides where the data goes; a parameters file cannot diverge.

The catalog's paths and the `collection` parameter both read `${runtime_params:collection,
${globals:collection}}`. A `collection:` in a parameters file (conf/local/parameters.yml) moves
the parameter alone, so the run would read and write the globals' collection under another
name: the project's hook refuses it when the catalog is built, before any node runs.
"""

from pathlib import Path

import pytest
from conftest import make_project


def _catalog_and_params(project: Path, runtime_params: dict | None = None):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=runtime_params or {}) as session:
        context = session.load_context()
        catalog = context.catalog  # builds it: the project's after_catalog_created hooks run
        return catalog, context.params


def _folder(catalog, name: str) -> str:
    """The collection folder of a catalog entry: data/<layer>/<collection>/<file>."""
    return Path(catalog.get(name)._filepath).parent.name


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path)


@pytest.mark.parametrize(
    ("name", "file", "entry"),
    [
        ("collection", "parameters.yml", "manifest"),
        ("model_collection", "parameters_inference.yml", "trained_fine_model"),
    ],
)
def test_a_collection_set_in_a_parameters_file_is_refused_with_where_to_set_it(
    project, name, file, entry
):
    (project / "conf/local" / file).write_text(f"{name}: mine\n")
    with pytest.raises(ValueError, match=rf"parameter {name}='mine'.*under 'default'") as error:
        _catalog_and_params(project)
    message = str(error.value)
    assert entry in message and "globals.yml" in message and f"--params {name}=mine" in message


def test_globals_or_the_command_line_move_the_parameter_and_the_data_together(project):
    entries = {"collection": "manifest", "model_collection": "trained_fine_model"}
    in_globals = {"collection": "mine", "model_collection": "ours"}
    on_the_command_line = {"collection": "theirs", "model_collection": "yours"}  # it wins
    (project / "conf/local/globals.yml").write_text(
        "".join(f"{name}: {value}\n" for name, value in in_globals.items())
    )
    for runtime, expected in ((None, in_globals), (on_the_command_line, on_the_command_line)):
        catalog, params = _catalog_and_params(project, runtime)
        for name, entry in entries.items():
            assert params[name] == expected[name] and _folder(catalog, entry) == expected[name]


def test_a_coarse_run_of_its_own_never_becomes_the_collections_coarse_model(project):
    """`coarse_run` (benchmarks/scaling.py's runs) moves the coarse stage's outputs into a
    subfolder; without it they stay where alignment and the fine stage read the coarse model."""
    own, _ = _catalog_and_params(project)
    side, _ = _catalog_and_params(project, {"coarse_run": "scaling/run-100-8000"})
    for name in ("coarse_model", "coarse_training_history"):
        mine, theirs = Path(own.get(name)._filepath), Path(side.get(name)._filepath)
        assert mine.name == theirs.name and mine.parent.name == "default", (mine, theirs)
        assert theirs.parent == mine.parent / "scaling/run-100-8000", (mine, theirs)
    assert Path(side.get("manifest")._filepath) == Path(own.get("manifest")._filepath)


def test_a_start_model_given_on_the_command_line_replaces_the_shipped_one(project, tmp_path):
    """`start_model` (the card's rebuild: the model the shipped one started from) moves the
    `pretrained_model` entry alone; without it the entry is the package's shipped model."""
    own, _ = _catalog_and_params(project)
    other, _ = _catalog_and_params(project, {"start_model": str(tmp_path / "start")})
    assert Path(own.get("pretrained_model")._filepath).parts[-3:] == (
        "coverhunter",
        "pretrained",
        "base",
    )
    assert Path(other.get("pretrained_model")._filepath) == tmp_path / "start"
    assert Path(other.get("coarse_model")._filepath) == Path(own.get("coarse_model")._filepath)
