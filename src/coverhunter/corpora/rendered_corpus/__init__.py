"""The rendered corpus's parts: corpus pieces, harmony, texture, cover, MIDI, FluidSynth, room."""
