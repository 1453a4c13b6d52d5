"""Serving a trained model outside Kedro: embed an audio file, the MLflow pyfunc model."""
