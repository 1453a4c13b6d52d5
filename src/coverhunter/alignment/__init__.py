"""Chunk matching between versions of one work, offset mode, aligned-pair table."""
