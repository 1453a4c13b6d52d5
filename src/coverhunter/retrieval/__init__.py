"""Chunk embeddings of whole tracks, faiss indexes, track-level ranking."""
