"""Kedro pipelines: thin glue between the catalog and the library areas."""
