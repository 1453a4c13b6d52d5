"""The rendered-corpus source's parts: corpus pieces, harmony, arrangement, MIDI, FluidSynth, room."""
