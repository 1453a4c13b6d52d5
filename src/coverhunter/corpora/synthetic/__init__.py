"""The synthetic collection's parts: score, composition, arrangement, voices, render."""
