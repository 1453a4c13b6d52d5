"""Real compositions from music21's corpus: which pieces may be used, in what order, as notes.

A candidate is one file of the corpus, or one tune of an ABC collection (the Essen folksongs,
O'Neill's, Ryan's Mammoth, ... hold thousands). Every Bach (the chorales, the rest of `bach/`,
C. P. E. Bach) is left out of the candidates and refused again after parsing when the score names
Bach as its composer: an independent check of the project uses the Bach chorales.

A parsed candidate becomes a `Piece`: each part's notes as an `(N, 3)` array of onset and duration
in quarter notes and MIDI pitch, the bar lines, the metre, the score's tempo mark if any, its key,
and (for a single melody) its harmony: the chord symbols it carries, else chords fitted to it.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import music21
import numpy as np
from music21 import chord, converter, harmony, meter, note, stream, tie
from music21 import tempo as m21tempo

from coverhunter.corpora.rendered_corpus.harmony import Chord, clip_chords, harmonise

logger = logging.getLogger(__name__)

# Test files and exercises, not music; `.rntxt` files are harmonic analyses, not scores.
EXCLUDED_COLLECTIONS = frozenset({"demos", "theoryExercises"})
# ABC files whose tunes are the voices of one piece (Superius, Altus, ...), not separate tunes.
VOICES_AS_TUNES = frozenset({"josquin"})
# A piece kept in several formats (Beethoven's op. 18 no. 1 as .krn and .mxl) is one candidate,
# in the first format of this list.
FORMAT_PREFERENCE = (".mxl", ".musicxml", ".xml", ".krn", ".abc")
# Compressed MusicXML holds about ten times its size in text: what parsing time follows.
_MXL_EXPANSION = 10.0
_ABC_TUNE = re.compile(r"^X:\s*(\d+)", re.MULTILINE)
_MIN_QUARTER_BPM, _MAX_QUARTER_BPM = 30.0, 300.0  # a tempo mark outside is a parsing accident


class PieceError(ValueError):
    """A candidate that cannot be used as a work (unparsable, Bach, no notes, too short)."""


def corpus_root() -> Path:
    """The folder of music21's bundled corpus."""
    return Path(music21.__file__).parent / "corpus"


def is_bach(text: str) -> bool:
    """True for anything naming Bach: `bach/...`, `cpebach/...`, "Bach, Johann Sebastian"."""
    return "bach" in text.lower()


@dataclass(frozen=True, order=True)
class Candidate:
    """One piece of the corpus: a file, or tune `number` of an ABC collection."""

    path: str  # relative to `corpus_root()`, with its suffix: "essenFolksong/altdeu10.abc"
    number: int | None = None

    @property
    def name(self) -> str:
        return self.path if self.number is None else f"{self.path}#{self.number}"

    @property
    def collection(self) -> str:
        return self.path.split("/", maxsplit=1)[0]


def _allowed(relative: str) -> bool:
    first = relative.split("/", maxsplit=1)[0]
    suffix = Path(relative).suffix.lower()
    return (
        suffix in FORMAT_PREFERENCE and first not in EXCLUDED_COLLECTIONS and not is_bach(relative)
    )


def score_kb(path: Path) -> float:
    """The text size of a score file in KB (MusicXML unpacked, estimated): its parsing cost."""
    expansion = _MXL_EXPANSION if path.suffix.lower() == ".mxl" else 1.0
    return path.stat().st_size * expansion / 1000.0


@functools.cache
def list_candidates(max_score_kb: float) -> tuple[Candidate, ...]:
    """Every usable piece of the corpus, sorted; Bach, demos and analyses are left out.

    Files above `max_score_kb` (see `score_kb`: whole string quartets in one file) are left out
    too: music21 takes tens of seconds over them, and an excerpt of a few bars is all we use.
    """
    root = corpus_root()
    files: dict[str, Path] = {}  # path without suffix -> the file in the preferred format
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if not path.is_file() or not _allowed(relative) or score_kb(path) > max_score_kb:
            continue
        stem = relative.rsplit(".", maxsplit=1)[0]
        rank = FORMAT_PREFERENCE.index(path.suffix.lower())
        if stem not in files or rank < FORMAT_PREFERENCE.index(files[stem].suffix.lower()):
            files[stem] = path
    candidates = []
    for path in sorted(files.values()):
        relative = path.relative_to(root).as_posix()
        if path.suffix.lower() == ".abc" and relative.split("/")[0] not in VOICES_AS_TUNES:
            numbers = sorted({int(x) for x in _ABC_TUNE.findall(path.read_text(errors="replace"))})
            candidates.extend(Candidate(relative, n) for n in numbers)
        else:
            candidates.append(Candidate(relative))
    return tuple(candidates)


def interleave_collections(
    candidates: tuple[Candidate, ...] | list[Candidate], rng: np.random.Generator
) -> list[Candidate]:
    """All of `candidates`, one of each collection in turn (collections and pieces shuffled).

    Round robin, so a selection of any size spreads over string quartets, madrigals, masses and
    folk songs instead of being mostly Essen folksongs (8500 of the 13000 candidates).
    """
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.collection, []).append(candidate)
    names = sorted(groups)
    order = [names[i] for i in rng.permutation(len(names))]
    queues = [[groups[name][i] for i in rng.permutation(len(groups[name]))] for name in order]
    longest = max((len(queue) for queue in queues), default=0)
    return [queue[i] for i in range(longest) for queue in queues if i < len(queue)]


@dataclass(frozen=True)
class Piece:
    """A parsed piece (or an excerpt of one); times in quarter notes from its start."""

    name: str  # the candidate's name
    composer: str
    parts: tuple[np.ndarray, ...]  # each (N, 3): onset, duration, MIDI pitch; highest part first
    chords: tuple[Chord, ...]  # the harmony of a single-melody piece (empty for several parts)
    bar_offsets: np.ndarray  # (M,) where bars start, ascending, the first 0
    length_q: float
    beat_q: float  # quarter notes per beat: 1 in 4/4, 1.5 in 6/8, 2 in 2/2
    beats_per_bar: int
    quarter_bpm: float | None  # the score's first tempo mark, when it has a sane one
    tonic: int  # pitch class 0-11
    mode: str  # "major" or "minor"

    @property
    def n_notes(self) -> int:
        return sum(len(part) for part in self.parts)


def _parse(candidate: Candidate) -> stream.Score:
    # Straight from the file: no pickle cache, which parallel workers could race on.
    parser = converter.Converter()
    parser.parseFile(
        corpus_root() / candidate.path,
        number=candidate.number,
        forceSource=True,
        storePickle=False,
    )
    score = parser.stream
    if isinstance(score, stream.Opus):
        voices = candidate.collection in VOICES_AS_TUNES
        score = score.mergeScores() if voices else score.scores.first()
    if not isinstance(score, stream.Score):
        raise PieceError(f"{candidate.name}: parsed to {type(score).__name__}, not a score")
    return score


def _tie_type(value: tie.Tie | None) -> str | None:
    return None if value is None else value.type


def _members(element) -> list[tuple[int, str | None]]:
    """(MIDI pitch, tie type) of each pitch of a note or chord; none for unpitched sounds."""
    if isinstance(element, chord.Chord):
        return [(n.pitch.midi, _tie_type(n.tie or element.tie)) for n in element.notes]
    if isinstance(element, note.Note):
        return [(element.pitch.midi, _tie_type(element.tie))]
    return []


def _part_notes(part: stream.Part) -> tuple[np.ndarray, list]:
    """`(N, 3)` notes (onset, duration, pitch) of a part, tied notes merged; its chord symbols.

    Ties are merged here rather than by music21's `stripTies`, which copies the whole part and
    takes longer than the parse.
    """
    rows: list[list[float]] = []
    symbols = []
    tied: dict[int, int] = {}  # pitch -> row of the note its tie continues
    for element in part.flatten().notes:
        if isinstance(element, harmony.ChordSymbol):
            symbols.append(element)
            continue
        onset, length = float(element.offset), float(element.quarterLength)
        if length <= 0:  # grace notes
            continue
        for pitch, tie_type in _members(element):
            if tie_type in ("stop", "continue") and pitch in tied:
                row = rows[tied[pitch]]
                row[1] = onset + length - row[0]
                if tie_type == "stop":
                    del tied[pitch]
                continue
            rows.append([onset, length, float(pitch)])
            if tie_type in ("start", "continue"):
                tied[pitch] = len(rows) - 1
    notes = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return notes[np.lexsort((notes[:, 2], notes[:, 0]))], symbols


def _symbol_chords(symbols: list, length_q: float) -> tuple[Chord, ...]:
    """Chord symbols as chords that last until the next symbol ("N.C." leaves a gap)."""
    chords = []
    offsets = [float(symbol.offset) for symbol in symbols] + [length_q]
    for symbol, start, end in zip(symbols, offsets[:-1], offsets[1:], strict=True):
        if isinstance(symbol, harmony.NoChord) or end <= start or not symbol.pitches:
            continue
        pcs = tuple(sorted({p.pitchClass for p in symbol.pitches}))
        chords.append(Chord(start, end - start, symbol.root().pitchClass, pcs))
    return tuple(chords)


def _bar_offsets(score: stream.Score, length_q: float, bar_q: float) -> np.ndarray:
    measures = score.parts[0].getElementsByClass(stream.Measure)
    offsets = sorted({float(m.offset) for m in measures if float(m.offset) < length_q})
    if len(offsets) < 2:  # a score without bar lines: bars of the time signature
        offsets = list(np.arange(0.0, length_q, bar_q))
    if offsets[0] != 0.0:
        offsets.insert(0, 0.0)
    return np.array(offsets, dtype=np.float64)


def load_piece(candidate: Candidate) -> Piece:
    """Parse `candidate` into a `Piece`; `PieceError` with the reason when it cannot be used."""
    if not _allowed(candidate.path):
        raise PieceError(f"{candidate.name}: not a usable corpus score (Bach, demo or analysis)")
    try:
        with warnings.catch_warnings():
            # music21 warns about the corpus's own notation slips (overfull bars, ...).
            warnings.simplefilter("ignore")
            score = _parse(candidate)
    except PieceError:
        raise
    except Exception as error:  # music21 raises many kinds on odd files
        raise PieceError(f"{candidate.name}: music21 cannot parse it ({error})") from error
    composer = str(score.metadata.composer or "") if score.metadata else ""
    if is_bach(composer):
        raise PieceError(f"{candidate.name}: composed by {composer}; Bach is excluded")
    notes_and_symbols = [_part_notes(part) for part in score.parts]
    parts = [notes for notes, _ in notes_and_symbols if len(notes)]
    if not parts:
        raise PieceError(f"{candidate.name}: no pitched notes")
    parts.sort(key=lambda notes: -float(np.mean(notes[:, 2])))
    length_q = max(float(np.max(notes[:, 0] + notes[:, 1])) for notes in parts)
    signature = score.recurse().getElementsByClass(meter.TimeSignature).first()
    signature = signature or meter.TimeSignature("4/4")
    beat_q = float(signature.beatDuration.quarterLength)
    bar_q = float(signature.barDuration.quarterLength)
    mark = score.recurse().getElementsByClass(m21tempo.MetronomeMark).first()
    quarter_bpm = float(mark.getQuarterBPM()) if mark is not None and mark.number else None
    if quarter_bpm is not None and not _MIN_QUARTER_BPM <= quarter_bpm <= _MAX_QUARTER_BPM:
        quarter_bpm = None
    analysed = score.analyze("key")
    bar_offsets = _bar_offsets(score, length_q, bar_q)
    tonic, mode = analysed.tonic.pitchClass, str(analysed.mode)
    mode = mode if mode in ("major", "minor") else "major"
    chords: tuple[Chord, ...] = ()
    if len(parts) == 1:
        symbols = [s for _, found in notes_and_symbols for s in found]
        chords = _symbol_chords(symbols, length_q) if symbols else ()
        chords = chords or harmonise(parts[0], bar_offsets, length_q, tonic, mode)
    return Piece(
        name=candidate.name,
        composer=composer,
        parts=tuple(parts),
        chords=chords,
        bar_offsets=bar_offsets,
        length_q=length_q,
        beat_q=beat_q,
        beats_per_bar=max(1, round(bar_q / beat_q)),
        quarter_bpm=quarter_bpm,
        tonic=tonic,
        mode=mode,
    )


def clip_notes(notes: np.ndarray, start_q: float, end_q: float) -> np.ndarray:
    """Notes `(N, 3)` that start in `[start_q, end_q)`, cut at `end_q`, moved to start at 0."""
    assert notes.ndim == 2 and notes.shape[1] == 3, notes.shape
    keep = (notes[:, 0] >= start_q) & (notes[:, 0] < end_q)
    out = notes[keep].copy()
    out[:, 1] = np.minimum(out[:, 0] + out[:, 1], end_q) - out[:, 0]
    out[:, 0] -= start_q
    return out


def excerpt(piece: Piece, start_q: float, end_q: float) -> Piece:
    """The piece from `start_q` to `end_q` (quarter notes), as a piece of its own."""
    if not 0 <= start_q < end_q:
        raise ValueError(f"excerpt [{start_q}, {end_q}) of {piece.name} is empty or negative")
    bars = piece.bar_offsets[(piece.bar_offsets >= start_q) & (piece.bar_offsets < end_q)]
    bars = np.unique(np.concatenate([[start_q], bars])) - start_q
    return replace(
        piece,
        parts=tuple(clip_notes(part, start_q, end_q) for part in piece.parts),
        chords=clip_chords(piece.chords, start_q, end_q),
        bar_offsets=bars,
        length_q=end_q - start_q,
    )
