import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from coverhunter.audio.augment import (
    AugmentConfig,
    Augmenter,
    change_volume,
    mask_stripes,
    mean_power_db,
    mix_noise,
    noise_segment,
    power_sum_db,
    roll_pitch,
    time_stretch,
)

FLOOR_DB = -80.0


def pure_tone(n_frames=8, n_bins=24, bin_index=5):
    """Log-CQT of a steady tone: 0 dB in one bin, the floor elsewhere."""
    x = torch.full((n_frames, n_bins), FLOOR_DB)
    x[:, bin_index] = 0.0
    return x


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_power_sum_of_two_equal_levels_is_3_db_up():
    out = power_sum_db(torch.tensor([0.0, -20.0]), torch.tensor([0.0, -20.0]))
    assert out.tolist() == pytest.approx([10 * math.log10(2), -20 + 10 * math.log10(2)], abs=1e-5)


def test_mean_power_db():
    # powers 1 and 0.01 -> mean 0.505 -> -2.967 dB
    x = torch.tensor([[0.0, -20.0]])
    assert float(mean_power_db(x)) == pytest.approx(10 * math.log10(0.505), abs=1e-5)
    assert mean_power_db(torch.stack([x, x - 10])).flatten().tolist() == pytest.approx(
        [10 * math.log10(0.505), 10 * math.log10(0.505) - 10], abs=1e-4
    )


def test_rolled_pure_tone_lands_a_semitone_count_away():
    x = pure_tone(bin_index=5)
    assert roll_pitch(x, 3)[0].argmax() == 8
    assert roll_pitch(x, -7)[0].argmax() == 22  # wraps: 5 - 7 = -2 -> bin 22 of 24
    assert roll_pitch(x, -3, fill="floor")[0].argmax() == 2
    assert roll_pitch(x, -7, fill="floor").max() == FLOOR_DB  # pushed off the bottom: gone


def test_floor_fill_sets_vacated_bins_to_the_minimum():
    x = torch.arange(6, dtype=torch.float32).repeat(2, 1)  # each frame [0, 1, 2, 3, 4, 5]
    assert roll_pitch(x, 2, fill="wrap")[0].tolist() == [4, 5, 0, 1, 2, 3]
    assert roll_pitch(x, 2, fill="floor")[0].tolist() == [0, 0, 0, 1, 2, 3]
    assert roll_pitch(x, -2, fill="floor")[1].tolist() == [2, 3, 4, 5, 0, 0]


def test_half_speed_doubles_frames_by_interpolating_time():
    ramp = torch.arange(4, dtype=torch.float32).unsqueeze(1).repeat(1, 3)  # frame t holds t
    out = time_stretch(ramp, 0.5)
    assert out.shape == (8, 3)
    assert out[:, 0].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.0]
    assert torch.equal(out[:, 0], out[:, 2])  # every bin moves alike: pitch untouched


def test_double_speed_halves_frames():
    ramp = torch.arange(8, dtype=torch.float32).unsqueeze(1)
    assert time_stretch(ramp, 2.0)[:, 0].tolist() == [0.0, 2.0, 4.0, 6.0]
    assert time_stretch(ramp.unsqueeze(0).repeat(2, 1, 1), 2.0).shape == (2, 4, 1)


def test_volume_is_a_shift_in_db():
    assert change_volume(torch.zeros(2, 2), -6.0).tolist() == [[-6.0, -6.0], [-6.0, -6.0]]


def test_noise_at_high_snr_barely_changes_the_chunk_and_at_low_snr_a_lot():
    x = pure_tone(n_frames=10)
    noise = torch.zeros_like(x)  # flat noise: equal power in every cell
    quiet = mix_noise(x, noise, snr_db=30.0)
    loud = mix_noise(x, noise, snr_db=-10.0)

    def power_change(y):  # relative change of the power, cell by cell, summed over the chunk
        return float((10 ** (y / 10) - 10 ** (x / 10)).abs().sum() / (10 ** (x / 10)).sum())

    # Mean power 1/24 per cell, so each noise cell gets 1/24000; after putting the tone's peak
    # back at 0 dB the 23 other cells of a frame gained 23/24000 of the frame's power 1.
    assert power_change(quiet) == pytest.approx(23 / 24001, rel=1e-3)
    assert quiet.max() == pytest.approx(0.0, abs=1e-5)
    assert power_change(loud) > 1.0
    # Tone power per cell 1, mean 1/24. At SNR -10 the noise cell is 10/24 of the tone's power:
    # tone cell 1 + 10/24, noise cell 10/24 -> noise cells sit 10 log10(10/34) = -5.3 dB below peak.
    assert loud[0, 0] == pytest.approx(10 * math.log10(10 / 34), abs=1e-4)
    assert (loud - x).abs().max() > 70


def test_volume_with_noise_lowers_the_effective_snr_and_the_level():
    x = pure_tone(n_frames=10)
    noise = torch.zeros_like(x)
    # 20 dB SNR with the signal 6 dB down equals 14 dB SNR at full volume, 6 dB lower.
    mixed = mix_noise(x, noise, 20.0, gain_db=-6.0)
    assert torch.allclose(mixed, mix_noise(x, noise, 14.0) - 6.0, atol=1e-5)
    assert float(mixed.max()) == pytest.approx(-6.0, abs=1e-5)


def _volume_only(prob: float = 1.0, volume_db=(-6.0, -1.0)) -> Augmenter:
    return Augmenter(replace(AugmentConfig.disabled(), volume_prob=prob, volume_db=volume_db))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_volume_alone_moves_the_chunk_by_the_drawn_gain(seed):
    x = torch.randn(30, 12, generator=generator(0)) * 10 - 40
    out = _volume_only()(x, generator(seed))
    shift = out - x
    gain = float(shift[0, 0])
    assert torch.allclose(shift, torch.full_like(x, gain), atol=1e-5)  # one gain everywhere
    assert -6.0 <= gain <= -1.0  # from volume_db, which excludes 0: it did move


def test_volume_gains_cover_their_range_and_probability_zero_keeps_the_level():
    x = torch.zeros(4, 12)
    gains = [float(_volume_only()(x, generator(seed))[0, 0]) for seed in range(200)]
    assert min(gains) < -5.5 and max(gains) > -1.5
    assert torch.equal(_volume_only(prob=0.0)(x, generator(0)), x)


def test_volume_with_noise_drawn_moves_the_level_by_the_same_gain():
    # Same generator: the same gain and noise are drawn with and without the volume step.
    bank = [np.random.default_rng(0).normal(-30, 5, size=(50, 24)).astype(np.float32)]
    x = pure_tone(n_frames=40)
    base = replace(AugmentConfig.disabled(), noise_prob=1.0, snr_db=(30.0, 30.0))
    loud = Augmenter(replace(base, volume_prob=1.0, volume_db=(0.0, 0.0)), bank)(x, generator(3))
    quiet = Augmenter(replace(base, volume_prob=1.0, volume_db=(-6.0, -6.0)), bank)(x, generator(3))
    assert float(loud.max()) == pytest.approx(0.0, abs=1e-5)
    assert float(quiet.max()) == pytest.approx(-6.0, abs=1e-5)


def test_noise_segment_loops_a_short_noise():
    noise = torch.arange(3, dtype=torch.float32).unsqueeze(1)
    out = noise_segment(noise, 7, generator(1))[:, 0].tolist()
    assert out == [(out[0] + i) % 3 for i in range(7)]


def test_masks_set_stripes_to_the_minimum():
    x = torch.arange(40, dtype=torch.float32).reshape(10, 4) + 1.0  # minimum 1.0
    widths = set()
    for seed in range(20):
        time_masked = mask_stripes(x, -2, n_stripes=1, max_width=3, generator=generator(seed))
        masked_rows = (time_masked == 1.0).all(dim=1)
        rows = masked_rows.nonzero().flatten().tolist()
        widths.add(len(rows))
        assert rows == list(range(rows[0], rows[0] + len(rows))) if rows else True  # one stripe
        assert torch.equal(time_masked[~masked_rows], x[~masked_rows])
    assert widths == {0, 1, 2, 3}
    freq_masked = mask_stripes(x, -1, n_stripes=2, max_width=0, generator=generator(3))
    assert torch.equal(freq_masked, x)  # width 0 masks nothing


def test_probability_zero_is_identity():
    x = torch.randn(20, 12, generator=generator(0))
    augmenter = Augmenter(AugmentConfig.disabled())
    assert torch.equal(augmenter(x, generator(5)), x)


def test_same_seed_same_output_and_other_seeds_differ():
    config = AugmentConfig(
        volume_prob=1.0, noise_prob=1.0, speed_prob=1.0, pitch_prob=1.0, mask_prob=1.0
    )
    bank = [np.random.default_rng(0).normal(-30, 5, size=(50, 24)).astype(np.float32)]
    augmenter = Augmenter(config, bank)
    x = pure_tone(n_frames=40)
    first, again = augmenter(x, generator(7)), augmenter(x, generator(7))
    assert torch.equal(first, again)
    assert not torch.equal(first, augmenter(x, generator(8)))
    assert first.shape[1] == 24 and 32 <= first.shape[0] <= 50  # 40 frames at rate 0.8..1.25


def test_noise_needs_a_bank_and_bad_settings_are_named():
    with pytest.raises(ValueError, match="noise bank"):
        Augmenter(AugmentConfig(noise_prob=0.5))
    with pytest.raises(ValueError, match="pitch_prob"):
        AugmentConfig(pitch_prob=1.5)
    with pytest.raises(ValueError, match="snr_db"):
        AugmentConfig(snr_db=(30.0, -10.0))
    with pytest.raises(ValueError, match="bins_per_octave"):
        AugmentConfig(bins_per_octave=10)


def test_yaml_lists_become_ranges():
    assert AugmentConfig(volume_db=[-3, 0]).volume_db == (-3, 0)
