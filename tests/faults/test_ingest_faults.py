"""Ingest fed hostile ids and broken listings, generators with a corrupt record, an empty noise
folder: each is a reject row or one line naming the file and the reason, never a traceback."""

from __future__ import annotations

import logging
import subprocess

import pandas as pd
import pytest
from click.testing import CliRunner
from fault_helpers import KEDRO, csv_params, kedro_env, user_listing
from project_helpers import run_session

from coverhunter.audio.cqt import CQTConfig
from coverhunter.cli import cli
from coverhunter.corpora.synthetic.collection import generate_synthetic_collection
from coverhunter.corpora.synthetic.config import SyntheticConfig
from coverhunter.data.noise import make_augmenter


def test_ids_that_cannot_be_file_names_are_rejected_with_the_reason(kedro_project, tmp_path):
    escape = f"../../../../../tmp/{tmp_path.name}_x"
    listing = user_listing(
        tmp_path / "user",
        [
            ("ok1", "A", "ok1.wav"),
            ("ok2", "A", "ok2.wav"),
            (escape, "A", "escape.wav"),
            ("sub/dir", "A", "sub.wav"),
            ("..", "A", "dots.wav"),
            ("ok3", "w/x", "slashed_work.wav"),
        ],
    )
    run_session(kedro_project, ["ingest", "feature_cqt"], csv_params(listing))

    folder = kedro_project / "data/02_intermediate/default"
    manifest = pd.read_parquet(folder / "manifest.parquet")
    rejects = pd.read_parquet(folder / "ingest_rejects.parquet").set_index("perf_id")
    assert sorted(manifest.perf_id) == ["ok1", "ok2"]
    slash = "(contains the path separator '/')"
    assert rejects.loc[escape, "reason"] == f"perf_id {escape!r} cannot be a file name {slash}"
    assert rejects.loc["sub/dir", "reason"] == f"perf_id 'sub/dir' cannot be a file name {slash}"
    assert rejects.loc["..", "reason"] == "perf_id '..' cannot be a file name ('..' names a folder)"
    assert rejects.loc["ok3", "reason"] == f"work_id 'w/x' cannot be a file name {slash}"
    assert not (tmp_path.parent / f"{tmp_path.name}_x").exists()


def test_a_csv_missing_a_column_ends_kedro_run_with_one_line(kedro_project, tmp_path):
    listing = tmp_path / "listing.csv"
    listing.write_text("perf_id,path\na,a.wav\n")
    params = f"ingest.source=csv,ingest.path={listing}"
    result = subprocess.run(
        [KEDRO, "run", "--pipelines", "ingest", "--params", params],
        cwd=kedro_project,
        env=kedro_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    assert result.stderr.strip().splitlines()[-1] == (
        f"kedro run: csv: {listing} lacks column(s) ['work_id']; its header is ['perf_id', 'path']"
    )


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "is empty (no header row)"),
        ("perf_id,work_id,path\nb\xe9,A,a.wav\n".encode("latin-1"), "is not UTF-8 text"),
    ],
    ids=["empty", "latin-1"],
)
def test_an_unreadable_csv_ends_kedro_run_with_one_line(kedro_project, tmp_path, content, message):
    from kedro.framework.startup import bootstrap_project

    listing = tmp_path / "listing.csv"
    listing.write_bytes(content)
    bootstrap_project(kedro_project)
    params = f"ingest.source=csv,ingest.path={listing}"
    result = CliRunner().invoke(cli, ["run", "--pipelines", "ingest", "--params", params])
    assert result.exit_code == 2, result.output[-3000:]
    assert isinstance(result.exception, SystemExit)  # not the error itself: it was handled
    assert "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"kedro run: csv: {listing} {message}")


SMALL = SyntheticConfig(
    n_works=1,
    min_versions=2,
    max_versions=2,
    min_duration_s=3.0,
    max_duration_s=3.5,
    max_prelude_s=0.5,
    max_outro_s=0.5,
    n_jobs=1,
)


@pytest.mark.parametrize("corruption", [b'{"request": {"seed', b"[]"], ids=["truncated", "list"])
def test_a_corrupt_generator_record_is_named_before_everything_is_rendered_again(
    tmp_path, caplog, corruption
):
    root = tmp_path / "synthetic"
    generate_synthetic_collection(root, SMALL, seed=1)
    record = root / "collection.json"
    record.write_bytes(corruption)
    with caplog.at_level(logging.WARNING):
        table = generate_synthetic_collection(root, SMALL, seed=1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        str(record) in w and "cannot be read" in w and "every work is rendered again" in w
        for w in warnings
    ), warnings
    assert len(table) == 2 and record.read_text().startswith("{")  # rewritten whole


def test_an_empty_noise_folder_is_an_error_naming_it(tmp_path):
    noise = tmp_path / "noise"
    noise.mkdir()
    (noise / "broken.wav").write_bytes(b"RIFF" + bytes(64))
    with pytest.raises(ValueError, match=f"noise_dir {noise} holds no usable audio"):
        make_augmenter({"noise_prob": 0.5}, noise, CQTConfig(), seed=0)
