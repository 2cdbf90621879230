"""Which cases a report shows, on hand-made Dice and scores."""

from __future__ import annotations

import math

from seguq.report.selection import (
    BEST,
    FLAGGED,
    UNCERTAIN,
    WORST,
    CaseRef,
    rank_categories,
    select_cases,
)

A, B, C, D = (CaseRef("test", n) for n in "abcd")
O1, O2 = CaseRef("ood", "x"), CaseRef("ood", "y")


def test_one_case_per_category_in_turn():
    dice = {A: 0.9, B: 0.5, C: 0.7, D: math.nan}
    scores = {A: 0.1, B: 0.3, C: 0.8, D: 0.2}
    flagged = {O1: 0.6, O2: 0.9}
    chosen = select_cases(dice, scores, flagged, max_cases=4)
    assert [(c.ref, c.reason) for c in chosen] == [
        (A, BEST),
        (B, WORST),
        (C, UNCERTAIN),
        (O2, FLAGGED),
    ]
    assert chosen[0].value == 0.9 and chosen[3].value == 0.9


def test_a_case_is_shown_once_and_the_next_candidate_steps_in():
    dice = {A: 0.9, B: 0.2}
    scores = {B: 0.9, A: 0.5, C: 0.4}  # B, the worst, is also the most uncertain
    chosen = select_cases(dice, scores, {}, max_cases=4)
    assert [(c.ref, c.reason) for c in chosen] == [(A, BEST), (B, WORST), (C, UNCERTAIN)]


def test_more_cases_take_second_rounds_and_max_cases_limits():
    dice = {A: 0.9, B: 0.2, C: 0.8, D: 0.3}
    chosen = select_cases(dice, {}, {}, max_cases=3)
    assert [(c.ref, c.reason) for c in chosen] == [(A, BEST), (B, WORST), (C, BEST)]
    assert select_cases(dice, {}, {}, max_cases=0) == []
    assert len(select_cases(dice, {}, {}, max_cases=10)) == 4


def test_without_dice_uncertain_and_flagged_cases_alternate():
    scores = {A: 0.1, B: 0.4, C: 0.3}
    flagged = {B: 0.4, C: 0.3}
    chosen = select_cases({}, scores, flagged, max_cases=4)
    assert [(c.ref, c.reason) for c in chosen] == [(B, UNCERTAIN), (C, FLAGGED), (A, UNCERTAIN)]


def test_ties_are_broken_by_set_and_id():
    ranked = rank_categories({B: 0.5, A: 0.5}, {}, {})
    assert [ref for ref, _ in ranked[BEST]] == [A, B]
    assert [ref for ref, _ in ranked[WORST]] == [A, B]
