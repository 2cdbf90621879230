"""`seguq report`: one self-contained HTML report with figures for a benchmark, demo or
prediction folder.

The report holds the results tables; for a few chosen cases (best and worst Dice, most uncertain,
flagged OOD) a figure per method with the image, ground truth, prediction and uncertainty maps;
reliability diagrams; OOD ROC curves; and Dice against the fraction of cases retained. Images are
embedded as data URIs and also saved as PNG in `figures/` beside the page.
"""

from seguq.report.detect import detect_kind
from seguq.report.write import write_report

__all__ = ["detect_kind", "write_report"]
