"""Results side by side: MLflow-safe metric names and the table printed at the end of a run."""

from coverhunter.evaluation.report import metric_items, mlflow_metric_name, results_table

ROW = {"mAP": 0.5, "MR1": 1.25, "hit_rate": 0.75, "P@10": 0.125, "n_queries": 8}


def test_metric_names_are_mlflow_safe():
    assert mlflow_metric_name("eval", "fine", "P@10") == "eval/fine/P_at_10"
    items = metric_items({"fine": ROW}, "eval")
    assert items == {
        "eval/fine/mAP": 0.5,
        "eval/fine/MR1": 1.25,
        "eval/fine/hit_rate": 0.75,
        "eval/fine/P_at_10": 0.125,
        "eval/fine/n_queries": 8.0,
    }


def test_results_table_has_one_aligned_line_per_model():
    fine = {**ROW, "mAP": 0.875, "ci95": {"mAP": [0.75, 1.0]}}
    lines = results_table({"untrained": ROW, "fine": fine}).splitlines()
    assert lines[0].split() == [
        "model",
        "mAP",
        "mAP",
        "95%",
        "CI",
        "MR1",
        "hit@1",
        "P@10",
        "queries",
    ]
    assert lines[1].split() == ["untrained", "0.500", "1.25", "0.750", "0.125", "8"]
    assert lines[2].split() == ["fine", "0.875", "0.750-1.000", "1.25", "0.750", "0.125", "8"]
    assert len({len(line) for line in lines}) == 1
