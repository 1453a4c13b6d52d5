"""Builders of our own collections: the synthetic and the rendered (music21) cover songs, and the
pretraining corpus. They write what the readers of `data/` read; `data/` never imports them."""
