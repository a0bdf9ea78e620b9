"""Training batches (docs/method.md §1): the two segment samplers and the two video pools."""

from __future__ import annotations

import numpy as np
import pytest

from wtal.training.batches import draw_pools, resample_indices, sample_batch


def allowed(length: int, max_seqlen: int, sampling: str, draws: int = 400) -> list[set[int]]:
    """The indices each bin drew over ``draws`` seeded samples."""
    rng = np.random.default_rng(0)
    seen: list[set[int]] = [set() for _ in range(max_seqlen)]
    for _ in range(draws):
        for i, index in enumerate(resample_indices(length, max_seqlen, rng, sampling)):
            seen[i].add(int(index))
    return seen


def test_perturb_draws_each_bin_from_its_floor_to_the_next_floor_inclusive():
    """T = 100, n = 60: s_i = 5i/3, so bin 0 draws 0..1, bin 1 draws 1..3, bin 2 3..5, ..."""
    seen = allowed(100, 60, "perturb")
    assert seen[:6] == [{0, 1}, {1, 2, 3}, {3, 4, 5}, {5, 6}, {6, 7, 8}, {8, 9, 10}]
    assert seen[58] == {96, 97, 98}  # floor(96.67) .. floor(98.33)
    assert seen[59] == {98, 99}  # the last bin: floor(98.33) .. T - 1


def test_perturb_upper_end_is_shared_with_the_next_bin():
    """Neighbouring bins can draw the same segment (the inclusive upper end)."""
    rng = np.random.default_rng(1)
    shared = 0
    for _ in range(200):
        picks = resample_indices(100, 60, rng, "perturb")
        assert np.all(np.diff(picks) >= 0)  # still in temporal order
        shared += int(np.any(np.diff(picks) == 0))
    assert shared > 150


def test_bins_draws_strictly_inside_each_bin():
    seen = allowed(100, 60, "bins")
    assert seen[:6] == [{0}, {1, 2}, {3, 4}, {5}, {6, 7}, {8, 9}]
    assert seen[59] == {98, 99}
    rng = np.random.default_rng(0)
    assert all(len(set(resample_indices(100, 60, rng, "bins"))) == 60 for _ in range(50))


@pytest.mark.parametrize("sampling", ["perturb", "bins"])
def test_a_video_of_exactly_max_seqlen_segments_is_used_as_is(sampling):
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    assert resample_indices(60, 60, rng, sampling).tolist() == list(range(60))
    if sampling == "perturb":
        assert rng.bit_generator.state == before  # nothing drawn, as the authors' arange


def test_perturb_on_a_short_video_repeats_segments():
    """T = 5, n = 12: s_i = 5i/12; equal floors give the floor, different ones a draw; the
    last bin (floor 4 = T - 1) is 4."""
    seen = allowed(5, 12, "perturb")
    assert seen == [
        {0}, {0}, {0, 1}, {1}, {1, 2}, {2}, {2}, {2, 3}, {3}, {3, 4}, {4}, {4},
    ]  # fmt: skip


def test_perturb_repeats_about_nine_of_sixty_segments_of_a_100_segment_video():
    """The issue's measurement of the authors' random_perturb (mean 8.8, sd 2.2)."""
    rng = np.random.default_rng(2023)
    repeats = [60 - np.unique(resample_indices(100, 60, rng, "perturb")).size for _ in range(2000)]
    assert 8.6 < np.mean(repeats) < 9.0
    assert 1.9 < np.std(repeats) < 2.5


def test_perturb_draws_from_the_run_generator_only():
    """Not numpy's global generator (the authors' np.random): resumed runs draw the same."""
    global_state = np.random.get_state()[1].copy()  # noqa: NPY002 - checked untouched
    a = resample_indices(100, 60, np.random.default_rng(5), "perturb")
    b = resample_indices(100, 60, np.random.default_rng(5), "perturb")
    assert a.tolist() == b.tolist()
    assert np.array_equal(np.random.get_state()[1], global_state)  # noqa: NPY002


def test_an_unknown_sampling_is_refused():
    with pytest.raises(ValueError, match="sampling"):
        resample_indices(100, 60, np.random.default_rng(0), "uniform")


def features(lengths: list[int], empty: tuple[int, ...] = ()) -> list[np.ndarray]:
    out = [np.ones((t, 4), np.float32) for t in lengths]
    for i in empty:
        out[i][:] = 0
    return out


def test_pools_leave_empty_videos_out_of_pairs_and_short_ones_out_of_the_random_draws():
    videos = features([40, 8, 40, 40, 11, 10], empty=(2,))
    pools = draw_pools(videos, min_segments=11, skip_empty=True)
    assert pools.pairable.tolist() == [True, True, False, True, True, True]
    assert pools.drawable.tolist() == [0, 2, 3, 4]
    assert pools.short == 2
    plain = draw_pools(videos, min_segments=0, skip_empty=False)
    assert plain.pairable.all() and plain.drawable.tolist() == list(range(6))


def test_sample_batch_draws_pairs_and_random_videos_from_their_pools():
    labels = np.zeros((6, 2), np.float32)
    labels[[0, 1, 2], 0] = 1  # video 2 is empty: class 0 pairs are always (0, 1)
    labels[[3, 4, 5], 1] = 1  # video 5 is short: it may pair, never be a random video
    pools = draw_pools(features([40, 40, 40, 40, 40, 5], empty=(2,)), 11, skip_empty=True)
    rng = np.random.default_rng(0)
    pairs, randoms = set(), set()
    for _ in range(300):
        batch = sample_batch(labels, rng, 3, 4, pairable=pools.pairable, drawable=pools.drawable)
        pairs.update(batch[:6].tolist())
        randoms.update(batch[6:].tolist())
    assert pairs == {0, 1, 3, 4, 5}
    assert randoms == {0, 1, 2, 3, 4}


def test_sample_batch_without_pools_draws_as_before():
    labels = np.eye(3, dtype=np.float32)[[0, 0, 1, 1, 2]]
    full = draw_pools(features([20] * 5), 0, skip_empty=False)
    a = sample_batch(labels, np.random.default_rng(4))
    b = sample_batch(
        labels, np.random.default_rng(4), pairable=full.pairable, drawable=full.drawable
    )
    assert a.tolist() == b.tolist()


def test_a_run_draws_its_batches_from_the_configured_pools(monkeypatch):
    from dataclasses import replace

    from tests.wtal.training.toy import toy_config, toy_dataset
    from wtal.training import state

    data = toy_dataset(12)
    videos = list(data.videos)
    videos[0] = replace(videos[0], features=videos[0].features[:8])  # short
    videos[4] = replace(videos[4], features=np.zeros_like(videos[4].features))  # empty
    data = replace(data, videos=tuple(videos))
    config = toy_config(dataset={"min_segments": 11}, training={"pairs_skip_empty": True})
    with pytest.warns(UserWarning, match="1 of 12 training videos have fewer than 11 segments"):
        run = state.prepare_run(config, data)
    drawn = []
    gather = state.gather_batch
    monkeypatch.setattr(
        state, "gather_batch", lambda f, rows, *a: drawn.append(rows) or gather(f, rows, *a)
    )
    for iteration in range(1, 301):
        run.batch(iteration)
    pairs, randoms = np.stack(drawn)[:, :6], np.stack(drawn)[:, 6:]
    assert 4 not in pairs and 4 in randoms  # empty: never paired
    assert 0 in pairs and 0 not in randoms  # short: paired, never a random video


def test_a_run_without_any_video_long_enough_for_the_random_draws_is_refused():
    from tests.wtal.training.toy import toy_config, toy_dataset
    from wtal.errors import TrainingError
    from wtal.training.state import prepare_run

    config = toy_config(dataset={"min_segments": 1000})
    with pytest.warns(UserWarning, match="16 of 16"), pytest.raises(TrainingError, match="1000"):
        prepare_run(config, toy_dataset())
