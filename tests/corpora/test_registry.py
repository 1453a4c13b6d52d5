"""What a generator writes is what ingest reads: the folder layout plus the ground truth."""

import pandas as pd
import pytest
from project_helpers import TINY_SYNTHETIC

from coverhunter.corpora.registry import render_collection
from coverhunter.data.sources.generated import list_performances


def test_a_rendered_collection_reads_back_as_its_ground_truth_with_paths(tmp_path):
    root = tmp_path / "synthetic"
    settings = {"root": "ignored", **TINY_SYNTHETIC, "n_works": 2}
    truth = render_collection("synthetic", settings, root, seed=0)
    assert not (tmp_path / "ignored").exists()  # the root given decides

    listing = list_performances(root, truth, "synthetic")

    pd.testing.assert_frame_equal(listing.drop(columns="path"), truth)
    expected = [
        str(root.resolve() / row.work_id / f"{row.perf_id}.flac") for row in truth.itertuples()
    ]
    assert listing.path.tolist() == expected
    assert list(listing.columns[:4]) == ["perf_id", "work_id", "path", "true_offset_s"]


def test_a_source_that_is_read_is_not_rendered(tmp_path):
    with pytest.raises(ValueError, match="'csv' is not a generated source"):
        render_collection("csv", {}, tmp_path, seed=0)
