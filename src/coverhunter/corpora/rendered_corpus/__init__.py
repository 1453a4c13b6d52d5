"""The rendered corpus (`ingest.source: rendered_corpus`): pieces of music21's corpus rendered by
FluidSynth as covers of each other (`collection.py` tells the whole story).

Its parts, in the order a recording is made: `config.py` (the settings), `corpus_pieces.py`
(candidates, parsing, excerpts), `works.py` (which pieces become works), `harmony.py`,
`texture.py`, `arrangement.py` and `cover.py` (what a version plays), `versions.py` (one version's
draws and audio), `performance.py` (timing), `midi_file.py`, `fluidsynth.py`, `room.py`, and
`scheduler.py` and `collection.py` (the works rendered in order, kept on disk).
"""
