"""The harmony under a single melody: the work's own chords, and the other progressions of covers.

Folk tunes come as a bare melody, a few with chord symbols. Where the symbols are missing, each
bar gets the diatonic triad that covers most of the melody's sounding time in it (its root counts
half again), as a musician harmonising a tune by ear would start (`harmonise`): that is the work's
own harmony, the one a version plays when it keeps it.

A cover re-harmonises (`reharmonise`): the same melody under another progression, made by the
changes of `HARMONY_CHANGES` that the version drew:
- `half_bar`: a chord every half bar instead of every bar (the harmonic rhythm doubles);
- `refit`: in some bars another diatonic triad that still holds at least half of the melody's
  sounding time there, instead of the best one;
- `relative`: triads swapped for their relative minor or major (C -> Am, Dm -> F);
- `ii_for_iv`: the subdominant triad replaced by the supertonic (F -> Dm in C major);
- `mode_change`: the tonic and subdominant triads take the other mode's third (C -> Cm, Am -> A)
  where the melody does not sound the third they lose;
- `secondary_dominant`: the chord before a chord other than the tonic (its second half, when it
  lasts two quarters or more) becomes that chord's dominant seventh (A7 -> Dm);
- `sevenths`: diatonic sevenths added (C -> Cmaj7, Dm -> Dm7, G -> G7).
A change that alters no chord (a tune without a subdominant has none to replace) is not reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

# Scale degrees (semitones above the tonic) and the triads on them, in the order a tie is
# resolved: tonic, dominant, subdominant, then the rest. Minor uses the harmonic minor's V.
_TRIADS = {
    "major": ((0, (0, 4, 7)), (7, (7, 11, 2)), (5, (5, 9, 0)), (9, (9, 0, 4)), (2, (2, 5, 9)), (4, (4, 7, 11))),
    "minor": ((0, (0, 3, 7)), (7, (7, 11, 2)), (5, (5, 8, 0)), (8, (8, 0, 3)), (3, (3, 7, 10)), (10, (10, 2, 5))),
}  # fmt: skip
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}  # natural minor
HARMONY_CHANGES = (
    "half_bar", "refit", "relative", "ii_for_iv", "mode_change", "secondary_dominant", "sevenths",
)  # fmt: skip
_ROOT_BONUS = 0.5
_COVER_SHARE = 0.5  # refit: an alternative triad holds at least this share of the melody's time
_REFIT_SHARE = 0.5  # refit: share of the bars with an alternative that take it
_SUBSTITUTE_SHARE = 0.5  # relative, secondary_dominant: share of the chords that change
_SEVENTH_SHARE = 0.6  # sevenths: share of the triads that take their seventh
_MAJOR, _MINOR = (0, 4, 7), (0, 3, 7)  # triads, semitones above the root


class Chord(NamedTuple):
    """A chord held from `onset` for `duration` quarter notes."""

    onset: float
    duration: float
    root: int  # pitch class 0-11
    pcs: tuple[int, ...]  # its pitch classes, ascending


def _bar_weights(melody: np.ndarray, start: float, end: float) -> np.ndarray:
    """`(12,)` quarter notes that each pitch class sounds within `[start, end)`."""
    overlap = np.minimum(melody[:, 0] + melody[:, 1], end) - np.maximum(melody[:, 0], start)
    weights = np.zeros(12)
    np.add.at(weights, melody[:, 2].astype(np.int64) % 12, np.clip(overlap, 0.0, None))
    return weights


def _diatonic_triads(tonic: int, mode: str) -> list[tuple[int, tuple[int, ...]]]:
    if mode not in _TRIADS:
        raise ValueError(f"mode={mode!r} must be one of {sorted(_TRIADS)}")
    return [
        ((tonic + root) % 12, tuple(sorted((tonic + pc) % 12 for pc in pcs)))
        for root, pcs in _TRIADS[mode]
    ]


def _fit(
    melody: np.ndarray,
    spans: Sequence[tuple[float, float]],
    tonic: int,
    mode: str,
    rng: np.random.Generator | None = None,
    refit_share: float = 0.0,
) -> tuple[list[Chord], bool]:
    """A triad for each span of `melody`, and whether any is not the best fitting one.

    With `rng`, a span whose melody another triad also covers (`_COVER_SHARE`) takes that one
    (drawn by score) with `refit_share`. A span without melody keeps the previous chord.
    """
    triads = _diatonic_triads(tonic, mode)
    chords, previous, refitted = [], triads[0], False
    for start, end in spans:
        weights = _bar_weights(melody, start, end)
        if weights.sum() > 0:
            held = np.array([weights[list(pcs)].sum() for _, pcs in triads])
            scores = held + _ROOT_BONUS * weights[[root for root, _ in triads]]
            best = int(np.argmax(scores))  # argmax keeps the first of equal scores
            choice = best
            others = [k for k in range(len(triads)) if k != best]
            others = [k for k in others if held[k] >= _COVER_SHARE * weights.sum()]
            if rng is not None and others and rng.random() < refit_share:
                p = scores[others] / scores[others].sum()
                choice = others[int(rng.choice(len(others), p=p))]
                refitted = True
            previous = triads[choice]
        chords.append(Chord(start, end - start, *previous))
    return chords, refitted


def _bar_spans(bar_offsets: np.ndarray, length_q: float) -> list[tuple[float, float]]:
    ends = [*bar_offsets[1:], length_q]
    return [(float(s), float(e)) for s, e in zip(bar_offsets, ends, strict=True) if e > s]


def _half_bar_spans(
    bar_offsets: np.ndarray, length_q: float, beat_q: float
) -> list[tuple[float, float]]:
    """Each bar of two beats or more cut in two at a beat."""
    spans = []
    for start, end in _bar_spans(bar_offsets, length_q):
        n_beats = round((end - start) / beat_q)
        middle = start + (n_beats // 2) * beat_q
        spans += [(start, middle), (middle, end)] if n_beats >= 2 else [(start, end)]
    return spans


def harmonise(
    melody: np.ndarray, bar_offsets: np.ndarray, length_q: float, tonic: int, mode: str
) -> tuple[Chord, ...]:
    """One diatonic triad per bar for `melody (N, 3)` (onset, duration, pitch) in `tonic` `mode`.

    A bar without melody keeps the previous chord (the tonic at the start).
    """
    assert melody.ndim == 2 and melody.shape[1] == 3, melody.shape
    chords, _ = _fit(melody, _bar_spans(bar_offsets, length_q), tonic, mode)
    return tuple(chords)


def _quality(chord: Chord) -> tuple[int, ...] | None:
    """`_MAJOR` or `_MINOR` for a major or minor triad, else None."""
    intervals = tuple(sorted((pc - chord.root) % 12 for pc in chord.pcs))
    return intervals if intervals in (_MAJOR, _MINOR) else None


def _chord(onset: float, duration: float, root: int, intervals: Sequence[int]) -> Chord:
    return Chord(onset, duration, root % 12, tuple(sorted({(root + i) % 12 for i in intervals})))


def _relative(chords: list[Chord], scale: set[int], rng: np.random.Generator) -> list[Chord]:
    """Some triads swapped for their relative minor (a minor third down) or major (up)."""
    out = []
    for chord in chords:
        quality = _quality(chord)
        if quality is not None and rng.random() < _SUBSTITUTE_SHARE:
            root = chord.root + (9 if quality == _MAJOR else 3)
            other = _chord(
                chord.onset, chord.duration, root, _MINOR if quality == _MAJOR else _MAJOR
            )
            chord = other if set(other.pcs) <= scale else chord
        out.append(chord)
    return out


def _ii_for_iv(chords: list[Chord], tonic: int, scale_pcs: Sequence[int]) -> list[Chord]:
    """Every subdominant triad replaced by the triad on the second degree."""
    subdominant = (tonic + 5) % 12
    ii = [scale_pcs[1], scale_pcs[3], scale_pcs[5]]  # degrees 2, 4, 6
    return [
        Chord(c.onset, c.duration, ii[0], tuple(sorted(ii)))
        if c.root == subdominant and _quality(c) is not None
        else c
        for c in chords
    ]


def _mode_change(chords: list[Chord], melody: np.ndarray, tonic: int) -> list[Chord]:
    """Tonic and subdominant triads in the other mode where the melody leaves their third free."""
    out = []
    for chord in chords:
        quality = _quality(chord)
        if quality is not None and chord.root in (tonic % 12, (tonic + 5) % 12):
            third = (chord.root + quality[1]) % 12
            weights = _bar_weights(melody, chord.onset, chord.onset + chord.duration)
            if weights[third] == 0:
                flipped = _MINOR if quality == _MAJOR else _MAJOR
                chord = _chord(chord.onset, chord.duration, chord.root, flipped)
        out.append(chord)
    return out


def _secondary_dominants(
    chords: list[Chord], melody: np.ndarray, tonic: int, rng: np.random.Generator
) -> list[Chord]:
    """Before some chords other than the tonic, their dominant seventh (where the melody fits)."""
    out = []
    for chord, following in zip(chords, [*chords[1:], None], strict=True):
        if following is None or following.root == tonic % 12 or _quality(following) is None:
            out.append(chord)
            continue
        root = (following.root + 7) % 12
        if chord.root == root or rng.random() >= _SUBSTITUTE_SHARE:
            out.append(chord)
            continue
        split = chord.duration / 2 if chord.duration >= 2.0 else 0.0
        onset, duration = chord.onset + split, chord.duration - split
        dominant = _chord(onset, duration, root, (0, 4, 7, 10))
        weights = _bar_weights(melody, onset, onset + duration)
        if weights.sum() > 0 and weights[list(dominant.pcs)].sum() < _COVER_SHARE * weights.sum():
            out.append(chord)  # the melody would clash with it
            continue
        if split:
            out.append(chord._replace(duration=split))
        out.append(dominant)
    return out


def _sevenths(
    chords: list[Chord], scale_pcs: Sequence[int], rng: np.random.Generator
) -> list[Chord]:
    """Some triads with the scale's note a seventh above their root added."""
    out = []
    for chord in chords:
        if _quality(chord) is not None and chord.root in scale_pcs:
            if rng.random() < _SEVENTH_SHARE:
                seventh = scale_pcs[(list(scale_pcs).index(chord.root) + 6) % 7]
                chord = chord._replace(pcs=tuple(sorted({*chord.pcs, seventh})))
        out.append(chord)
    return out


def reharmonise(
    melody: np.ndarray,
    bar_offsets: np.ndarray,
    length_q: float,
    beat_q: float,
    tonic: int,
    mode: str,
    base: tuple[Chord, ...],
    changes: Sequence[str],
    rng: np.random.Generator,
) -> tuple[tuple[Chord, ...], tuple[str, ...]]:
    """Another progression for `melody (N, 3)`, and the changes that altered it.

    `base` is the work's own harmony (empty: the best fit, see `harmonise`); `changes` are names
    of `HARMONY_CHANGES` (see the module doc). Returns the chords and the names of the changes
    that altered them, in the order of `HARMONY_CHANGES`.
    """
    assert melody.ndim == 2 and melody.shape[1] == 3, melody.shape
    unknown = sorted(set(changes) - set(HARMONY_CHANGES))
    if unknown:
        raise ValueError(f"unknown harmony changes {unknown}; choose from {list(HARMONY_CHANGES)}")
    applied = []
    chords = list(base)
    if not chords or "half_bar" in changes or "refit" in changes:
        bars = _bar_spans(bar_offsets, length_q)
        spans = _half_bar_spans(bar_offsets, length_q, beat_q) if "half_bar" in changes else bars
        share = _REFIT_SHARE if "refit" in changes else 0.0
        chords, refitted = _fit(melody, spans, tonic, mode, rng, share)
        applied += ["half_bar"] * (len(spans) > len(bars)) + ["refit"] * refitted
    scale_pcs = [(tonic + pc) % 12 for pc in SCALES[mode]]
    scale = {*scale_pcs, (tonic + 11) % 12}  # the leading tone too
    steps = {
        "relative": lambda c: _relative(c, scale, rng),
        "ii_for_iv": lambda c: _ii_for_iv(c, tonic, scale_pcs),
        "mode_change": lambda c: _mode_change(c, melody, tonic),
        "secondary_dominant": lambda c: _secondary_dominants(c, melody, tonic, rng),
        "sevenths": lambda c: _sevenths(c, scale_pcs, rng),
    }
    for name, step in steps.items():
        if name in changes:
            changed = step(chords)
            if changed != chords:
                applied.append(name)
            chords = changed
    return tuple(chords), tuple(name for name in HARMONY_CHANGES if name in applied)


def clip_chords(chords: tuple[Chord, ...], start_q: float, end_q: float) -> tuple[Chord, ...]:
    """The chords sounding within `[start_q, end_q)`, cut to it, moved to start at 0."""
    out = []
    for chord in chords:
        onset, end = max(chord.onset, start_q), min(chord.onset + chord.duration, end_q)
        if end > onset:
            out.append(chord._replace(onset=onset - start_q, duration=end - onset))
    return tuple(out)
