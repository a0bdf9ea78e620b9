"""Presets fill what the paper and the code disagree on; explicit values win."""

from __future__ import annotations

from tests.wtal.training.toy import toy_config


def test_paper_and_official_presets():
    paper = toy_config(model={"preset": "paper"})
    official = toy_config(model={"preset": "official"})
    assert paper["model"]["vlc"]["objective"] == "masked"
    assert official["model"]["vlc"]["objective"] == "causal"
    assert paper["model"]["vlc"]["template"] == "a video of the [CLS]"
    assert official["model"]["vlc"]["template"] == "one video of the [CLS]."
    assert (paper["losses"]["gamma2"], official["losses"]["gamma2"]) == (0.2, 0.15)
    assert (paper["losses"]["autoencoder"], official["losses"]["autoencoder"]) == (0.0, 1.5)
    assert official["model"]["vlc"]["video_causal"] is True
    # The authors' optimiser details under official; the plain forms under paper.
    assert (official["training"]["vlc_clip"], paper["training"]["vlc_clip"]) == ("whole", "own")
    assert (official["training"]["vlc_adam"], paper["training"]["vlc_adam"]) == ("fairseq", "torch")
    assert (official["losses"]["mil_epsilon"], paper["losses"]["mil_epsilon"]) == (1e-4, 0.0)
    # Word positions: none as the authors (causal order); the masked objective needs them.
    assert official["model"]["vlc"]["word_positions"] is False
    assert paper["model"]["vlc"]["word_positions"] is True


def test_explicit_values_win_over_the_preset():
    config = toy_config(
        model={"preset": "official", "vlc": {"objective": "masked"}}, losses={"gamma2": 0.3}
    )
    assert config["model"]["vlc"]["objective"] == "masked" and config["losses"]["gamma2"] == 0.3
