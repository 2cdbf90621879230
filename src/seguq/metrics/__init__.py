"""Metrics: segmentation, calibration, uncertainty vs error, OOD detection, ambiguity.

Each metric is a pure function of one case (or one set of scores); metrics that must be pooled
over a data set (ECE, pixel AUROC/AUPR/UEO) have an accumulator with ``update`` and
``compute`` instead of averaging per-batch values.
"""

from seguq.metrics.ambiguity import (
    AmbiguityAccumulator,
    annotator_disagreement,
    generalised_energy_distance,
    hungarian_matched_iou,
    pairwise_iou,
    uncertainty_disagreement_ncc,
)
from seguq.metrics.calibration import (
    CalibrationAccumulator,
    brier_score,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_diagram,
    temperature_scale,
)
from seguq.metrics.error_detection import (
    ErrorDetectionAccumulator,
    average_precision,
    binary_auroc,
    uncertainty_error_overlap,
)
from seguq.metrics.ood import fpr_at_tpr, ood_scores, ood_threshold
from seguq.metrics.risk_coverage import (
    aurc,
    e_aurc,
    filtered_dice_auc,
    filtered_dice_curve,
    optimal_aurc,
)
from seguq.metrics.segmentation import (
    SEGMENTATION_METRICS,
    aggregate_segmentation_scores,
    assd,
    dice,
    hd95,
    iou,
    segmentation_scores,
)

__all__ = [
    "SEGMENTATION_METRICS",
    "AmbiguityAccumulator",
    "CalibrationAccumulator",
    "ErrorDetectionAccumulator",
    "aggregate_segmentation_scores",
    "annotator_disagreement",
    "assd",
    "aurc",
    "average_precision",
    "binary_auroc",
    "brier_score",
    "dice",
    "e_aurc",
    "expected_calibration_error",
    "filtered_dice_auc",
    "filtered_dice_curve",
    "fit_temperature",
    "fpr_at_tpr",
    "generalised_energy_distance",
    "hd95",
    "hungarian_matched_iou",
    "iou",
    "negative_log_likelihood",
    "ood_scores",
    "ood_threshold",
    "optimal_aurc",
    "pairwise_iou",
    "reliability_diagram",
    "segmentation_scores",
    "temperature_scale",
    "uncertainty_disagreement_ncc",
    "uncertainty_error_overlap",
]
