"""Which cases a report shows: the best and worst segmented, the most uncertain, a flagged OOD one.

Pure functions over plain dictionaries keyed by `CaseRef` (set name, case id): a case id alone is
not unique across sets (a corrupted copy keeps its clean case's id).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BEST, WORST, UNCERTAIN, FLAGGED = "best Dice", "worst Dice", "most uncertain", "flagged OOD"
CATEGORIES = (BEST, WORST, UNCERTAIN, FLAGGED)


@dataclass(frozen=True, order=True)
class CaseRef:
    """A case of a set."""

    set: str
    id: str


@dataclass(frozen=True)
class Selected:
    """A chosen case, why it was chosen (a category) and the value that ranked it."""

    ref: CaseRef
    reason: str
    value: float


def rank_categories(
    dice: dict[CaseRef, float],
    scores: dict[CaseRef, float],
    flagged: dict[CaseRef, float],
) -> dict[str, list[tuple[CaseRef, float]]]:
    """Each category's candidates, the most telling first.

    Args:
        dice: per-case Dice of evaluated cases (NaN ignored).
        scores: image scores of the cases that may be "most uncertain".
        flagged: image scores of the OOD-set cases flagged as OOD.

    Returns:
        {category: [(case, value), ...]}; ties are broken by (set, id), so the order is stable.
    """

    def ranked(values: dict[CaseRef, float], highest_first: bool) -> list[tuple[CaseRef, float]]:
        finite = [(ref, v) for ref, v in values.items() if math.isfinite(v)]
        sign = -1.0 if highest_first else 1.0
        return sorted(finite, key=lambda item: (sign * item[1], item[0]))

    return {
        BEST: ranked(dice, True),
        WORST: ranked(dice, False),
        UNCERTAIN: ranked(scores, True),
        FLAGGED: ranked(flagged, True),
    }


def select_cases(
    dice: dict[CaseRef, float],
    scores: dict[CaseRef, float],
    flagged: dict[CaseRef, float],
    max_cases: int = 4,
) -> list[Selected]:
    """Up to `max_cases` distinct cases, taken in turn from best, worst, most uncertain, flagged.

    Each turn takes the category's best candidate not chosen yet; a category without one is
    passed over, so that e.g. without Dice values every case is an uncertain or a flagged one.
    """
    candidates = rank_categories(dice, scores, flagged)
    positions = dict.fromkeys(CATEGORIES, 0)
    chosen: list[Selected] = []
    taken: set[CaseRef] = set()
    while len(chosen) < max_cases:
        progressed = False
        for category in CATEGORIES:
            if len(chosen) >= max_cases:
                break
            options = candidates[category]
            while positions[category] < len(options) and options[positions[category]][0] in taken:
                positions[category] += 1
            if positions[category] < len(options):
                ref, value = options[positions[category]]
                chosen.append(Selected(ref, category, value))
                taken.add(ref)
                progressed = True
        if not progressed:
            break
    return chosen
