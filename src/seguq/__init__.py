"""seguq: uncertainty-aware medical image segmentation.

    import seguq
    run = seguq.train(data="synthetic", out="runs/hue", method="hue", epochs=3)
    out = seguq.Predictor(run.run_dir).predict("image.png")
    out.mask, out.probabilities, out.maps["total"], out.scores["ood"]

`seguq.predict` and `seguq.evaluate` write and score prediction folders as the command line does.
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "train": ("seguq.api", "train"),
    "Predictor": ("seguq.engine.predictor", "Predictor"),
    "Prediction": ("seguq.engine.predictor", "Prediction"),
    "predict": ("seguq.engine.predict", "predict"),
    "evaluate": ("seguq.engine.evaluate", "evaluate"),
    "from_nnunet": ("seguq.engine.from_nnunet", "from_nnunet"),
    "refit_feature_maps": ("seguq.engine.after_training", "refit_feature_maps"),
    "SeguqError": ("seguq.errors", "SeguqError"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import the public functions on first use: `import seguq` stays light for the CLI."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seguq' has no attribute '{name}'")
    import importlib

    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value
