"""A pretraining collection at scale: thousands of music21 corpus works, straight to features.

The works are rendered as the default collection's are (`rendered_corpus/`: the same cover
variation, ensembles, tempo, key, preludes and outros, room and noise), by default every usable
piece of the corpus (~14,000) in 4-6 versions each, but only their log-CQT is kept: each worker
process renders one work (`rendered_corpus/versions.py`, `render_work_audio`), rounds every
version to the 16-bit samples its FLAC file holds, peak-normalises it and computes its log-CQT on
the CPU (`torch.set_num_threads(1)` per worker), and sends the parent the table rows and float16
arrays; the parent appends them to the feature store and commits every `commit_every` works.
With `keep_audio` the versions are also written as FLAC under `audio_root/<work_id>/` (the
features are the same either way: what `feature_cqt` would compute from those files).

Never heard here: anything by Bach (left out of the corpus candidates and refused after parsing,
see `rendered_corpus/corpus_pieces.py`), and none of the default collection's works (its test
works must stay unheard), neither as works nor as preludes or outros; its prelude/outro pieces
are not works here either. Which pieces those are is found by replaying the default collection's
selection (its settings and seed: the first `n_works` usable pieces of its candidate order, each
parsed), cached in the store folder.

Works are the pretraining's own candidate order (`select_candidates` with its settings and the
project seed), the default collection's pieces passed over; `work_idx` (a work's rank) is its
place in that order, so the audio of a work does not depend on `n_works`, `n_jobs` or what was
excluded before it.

Resuming: every version's feature row carries a fingerprint of the render request (settings,
seed, soundfont, FluidSynth and music21 versions, filler pieces, CQT settings), the work and its
rank and the version. Next to the store's index, `pretraining_rows.parquet` holds the table rows
of the works written so far and `pretraining_corpus.json` the pieces that failed to parse (and
the default collection's pieces); both are written just before each commit. A run skips every
work whose rows are recorded and whose versions are all in the index with the expected
fingerprint, so a build killed at any point (SIGKILL, a power cut) resumes at its last commit;
stopped by Ctrl-C or SIGTERM (`kill PID`), or failing, it first commits every work it finished.

The table (`build_pretraining_corpus`) has the `TABLE_COLUMNS`: the rendered corpus's ground truth
and `path` (empty unless `keep_audio`); `pretraining_manifest` makes it a manifest with a
work-level split: `val_fraction` of the works (at least `min_val_works`) for validation, the rest
train, no test split (the test works are the default collection's).

Its parts: `config.py` (the build's settings from the parameters), `default_collection.py` (the
pieces never to be works here), `fingerprints.py` (what a stored version was made from),
`work.py` (one work rendered to features, in a worker), `resume.py` (what a build keeps beside
the store and what of it a later run reuses), `progress.py`, `build.py` (the whole build) and
`manifest.py` (the table as a manifest).
"""
