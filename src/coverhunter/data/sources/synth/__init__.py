"""The synthetic cover-song generator's parts: score, composition, arrangement, voices, render."""
