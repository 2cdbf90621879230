"""ONNX export of a trained run, for serving seguq models outside Python and PyTorch.

Two graphs, both with a dynamic batch and spatial size, inputs already preprocessed as the run
expects (channels, spacing, normalisation: see the metadata) and outputs class probabilities
after the run's temperature:

- `<out>`: the deterministic prediction, image (B, C, *spatial) -> probs (B, K, *spatial)
  (HUE, PHiSeg and the Probabilistic U-Net at their prior means).
- `<out stem>.samples.onnx` (with `samples`): S samples, image plus the method's random numbers
  as explicit inputs -> probs (S, B, K, *spatial). ONNX runtimes drop dropout at inference and
  have no sampling of their own, so the caller draws them: standard normal arrays for the latent
  methods (HUE and PHiSeg "level<l>", Probabilistic U-Net "z", pixel-wise "logits") and keep
  masks for MC dropout ("dropout<j>": 1 with probability 1 - p). Their shapes follow
  `Method.noise_shapes`: the metadata key "seguq" holds, per input, its shape for the example
  image, its distribution and how it scales with the input (`noise_for` draws them).
  TTA and ensembles have no random inputs: the samples graph returns their S transforms or
  members.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seguq.engine.checkpoint import load_method, resolve_model
from seguq.errors import SeguqError
from seguq.methods import Method


class _Deterministic(nn.Module):
    def __init__(self, method: Method):
        super().__init__()
        self.method = method

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits = self.method.logits(image).float()
        return torch.softmax(logits / self.method.temperature, dim=1)


class _Samples(nn.Module):
    def __init__(self, method: Method, samples: int, names: list[str]):
        super().__init__()
        self.method, self.samples, self.names = method, samples, names

    def forward(self, image: torch.Tensor, *noise: torch.Tensor) -> torch.Tensor:
        given = dict(zip(self.names, noise, strict=True)) if self.names else None
        logits = self.method.logit_samples(image, self.samples, noise=given).float()
        return torch.softmax(logits / self.method.temperature, dim=2)


def _example(method: Method) -> torch.Tensor:
    """Two images of the training patch's size (a batch of 2: the exporter would fix sizes of
    1 as constants)."""
    patch = method.config.data.patch_size
    return torch.randn(2, method.in_channels, *patch)


def _dynamic(names: list[str], dims: int) -> tuple[dict, ...]:
    """Batch and spatial sides free; a noise input's batch (axis 1) and, for the maps whose
    size follows the image (latent levels, per-pixel logits), its spatial axes."""
    auto = torch.export.Dim.AUTO
    image = {0: auto, **{2 + i: auto for i in range(dims)}}
    noise = []
    for name in names:
        follows_image = name.startswith(("level", "logits"))
        spatial = {3 + i: auto for i in range(dims)} if follows_image else {}
        noise.append({1: auto, **spatial})
    return (image,) if not names else (image, tuple(noise))  # forward(image, *noise)


def metadata(method: Method, samples: int, example_shape: tuple[int, ...]) -> dict[str, Any]:
    """What a caller needs to feed the graphs (stored in the models' metadata)."""
    config = method.config
    noise = method.noise_shapes(example_shape, samples)
    return {
        "method": config.method.name,
        "in_channels": method.in_channels,
        "classes": config.data.class_names,
        "spatial_dims": method.spatial_dims,
        "samples": samples,
        "example_input": list(example_shape),
        "noise": {
            name: {
                "shape_for_example": list(shape),
                "distribution": "bernoulli_keep" if name.startswith("dropout") else "normal",
                "keep_probability": _keep(method, name),
            }
            for name, shape in noise.items()
        },
        "preprocessing": {
            "normalization": config.data.normalization,
            "ct_stats": config.data.ct_stats,
            "target_spacing": config.data.target_spacing,
            "slice_axis": config.data.slice_axis if config.data.dims == 2 else None,
        },
        "temperature": float(method.temperature),
    }


def _keep(method: Method, name: str) -> float | None:
    if not name.startswith("dropout"):
        return None
    layers = [m for m in method.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    return 1.0 - float(layers[int(name.removeprefix("dropout"))].p)


def noise_for(
    method: Method, image_shape: tuple[int, ...], samples: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """The random inputs of the samples graph for an image of `image_shape`, drawn as the
    method draws them."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in method.noise_shapes(tuple(image_shape), samples).items():
        if name.startswith("dropout"):
            out[name] = (rng.random(shape) < _keep(method, name)).astype(np.float32)
        else:
            out[name] = rng.standard_normal(shape).astype(np.float32)
    return out


def export_onnx(
    model: Path, out: Path, *, samples: int | None = None, overwrite: bool = False
) -> list[Path]:
    """Export a run's method to ONNX (the deterministic graph, and the samples graph when
    `samples` is given).

    Args:
        model: a run folder or checkpoint.
        out: the deterministic graph's file (`.onnx`).
        samples: S for the samples graph (None: no samples graph).
        overwrite: replace existing files.

    Returns:
        The files written.

    Raises:
        SeguqError: a bad model or file name, existing files without `overwrite`, or a graph
            the exporter cannot translate.
    """
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise SeguqError(f"--out {out}: expected an .onnx file name")
    targets = [out] + ([out.with_suffix(".samples.onnx")] if samples else [])
    for target in targets:
        if target.exists() and not overwrite:
            raise SeguqError(f"--out {target}: file exists (use --overwrite)")
    if samples is not None and samples < 1:
        raise SeguqError(f"--samples: expected a positive number, got {samples}")
    method = load_method(resolve_model(Path(model))).eval()
    example = _example(method)
    info = metadata(method, samples or method.default_samples, tuple(example.shape))
    out.parent.mkdir(parents=True, exist_ok=True)
    _export(_Deterministic(method), (example,), ["image"], ["probs"], targets[0], info, method)
    if samples:
        noise = method.noise_shapes(tuple(example.shape), samples)
        generated = noise_for(method, tuple(example.shape), samples)
        inputs = (example, *[torch.from_numpy(generated[name]) for name in noise])
        graph = _Samples(method, samples, list(noise))
        _export(graph, inputs, ["image", *noise], ["samples"], targets[1], info, method)
    return targets


def _export(module, inputs, input_names, output_names, path: Path, info: dict, method) -> None:
    try:
        import onnx
    except ImportError:
        raise SeguqError("ONNX export needs the onnx extra: pip install 'seguq[onnx]'") from None
    temp = path.with_name(f".{path.name}.tmp")
    module.eval()
    try:
        with torch.no_grad():
            torch.onnx.export(
                module,
                inputs,
                str(temp),
                input_names=input_names,
                output_names=output_names,
                dynamic_shapes=_dynamic(input_names[1:], method.spatial_dims),
                dynamo=True,
                verbose=False,
            )
    except Exception as error:  # noqa: BLE001 - the exporter raises many kinds
        temp.unlink(missing_ok=True)
        raise SeguqError(f"{path}: ONNX export failed ({type(error).__name__}: {error})") from None
    proto = onnx.load(str(temp))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "seguq", json.dumps(info)
    onnx.save(proto, str(temp))
    temp.replace(path)


def read_metadata(path: Path) -> dict[str, Any]:
    """The "seguq" metadata of an exported graph."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    for entry in proto.metadata_props:
        if entry.key == "seguq":
            return json.loads(entry.value)
    raise SeguqError(f"{path}: not a seguq export (no 'seguq' metadata)")
