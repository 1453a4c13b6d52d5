"""The synthetic collection (`ingest.source: synthetic`, what the tests use): seeded melodies and
chords played by synthesised voices (`collection.py` tells the whole story).

Its parts: `config.py` (the settings), `score.py` (notes in beats), `composition.py` (a work),
`arrangement.py` (its accompaniment), `voices.py` (the instruments), `performance.py` (a
version played into audio), `versions.py` (one version's draws) and `collection.py` (the works
rendered and kept on disk).
"""
