"""Manifest schema, dataset sources (one module per format), samplers and chunking."""
