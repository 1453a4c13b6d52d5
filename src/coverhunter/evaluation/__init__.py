"""MIREX-protocol metrics, reports and plots. Scores rankings, never a model."""
