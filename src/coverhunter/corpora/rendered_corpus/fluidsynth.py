"""MIDI to audio with the FluidSynth command line and a General-MIDI soundfont.

`fluidsynth -ni -F out.wav -r RATE sf2 in.mid` renders faster than real time without an audio
device. Its own reverb and chorus are switched off (the room is added afterwards, drawn per
version) and samples are written as float, so no dither: the same MIDI gives the same audio.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

# Where Debian/Ubuntu (fluid-soundfont-gm, timgm6mb-soundfont), Fedora, Arch and Homebrew put
# General-MIDI soundfonts; the first that exists is used.
SOUNDFONT_PATHS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/soundfonts/FluidR3_GM2-2.sf2",
    "/opt/homebrew/share/soundfonts/default.sf2",
    "/usr/local/share/soundfonts/default.sf2",
)
INSTALL_HINT = (
    "run `make system-deps`, or install it yourself: Debian/Ubuntu "
    "`apt-get install fluidsynth fluid-soundfont-gm`, macOS `brew install fluid-synth` "
    "plus a General-MIDI .sf2 soundfont"
)


def find_fluidsynth(command: str) -> str:
    """The full path of the FluidSynth program `command`; ValueError saying how to install it."""
    found = shutil.which(command)
    if found is None:
        raise ValueError(f"FluidSynth program {command!r} not found on PATH: {INSTALL_HINT}")
    return found


def find_soundfont(path: str | None) -> Path:
    """The soundfont `path`, or the first of `SOUNDFONT_PATHS` when it is None or empty.

    ValueError naming the missing file (or the places searched) and how to install one.
    """
    if path:
        soundfont = Path(os.path.expanduser(path))
        if not soundfont.is_file():
            raise ValueError(
                f"soundfont {soundfont} not found: set `soundfont` to an .sf2 file or {INSTALL_HINT}"
            )
        return soundfont.resolve()
    for candidate in SOUNDFONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate).resolve()
    raise ValueError(
        f"no General-MIDI soundfont found (looked in {', '.join(SOUNDFONT_PATHS)}): {INSTALL_HINT}"
    )


def fluidsynth_version(program: str) -> str:
    """The first line `program --version` prints, e.g. "FluidSynth runtime version 2.3.1"."""
    result = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)
    return (result.stdout.strip().splitlines() or ["unknown"])[0]


def render_midi(
    midi_path: Path, soundfont: Path, sample_rate: int, program: str, gain: float
) -> np.ndarray:
    """`(S,)` float32 mono audio of the MIDI file at `sample_rate`, played until its last release.

    The WAV goes next to `midi_path`. RuntimeError with FluidSynth's message when it fails.
    """
    wav_path = midi_path.with_suffix(".wav")
    command = [
        program, "-n", "-i", "-q", "-R", "0", "-C", "0", "-g", f"{gain:g}",
        "-r", str(sample_rate), "-O", "float", "-T", "wav", "-F", str(wav_path),
        str(soundfont), str(midi_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not wav_path.is_file():
        message = (result.stderr or result.stdout).strip()[-500:]
        raise RuntimeError(
            f"fluidsynth failed on {midi_path} (exit {result.returncode}): {message}"
        )
    audio, rate = sf.read(str(wav_path), dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise RuntimeError(
            f"fluidsynth wrote {rate} Hz audio for {midi_path}, not {sample_rate} Hz"
        )
    return audio.mean(axis=1)
