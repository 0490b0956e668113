import pytest

from keras_electra.metrics.squad_metrics import (
    exact_match, f1_score, normalize_answer, squad_v1_metrics, squad_v2_metrics)


@pytest.mark.parametrize("text, normalized", [
    ("The Beatles", "beatles"),
    ("An apple, a day!", "apple day"),
    ("Theatre of the Absurd", "theatre of absurd"),  # "the" inside a word stays
    ("  U.S.  Army's   ", "us armys"),               # punctuation goes before spaces collapse
    ("the-end", "theend"),                           # a hyphen is removed, not split on
    ("1,000.5", "10005"),
    ("a\tb\nc", "b c"),
    ("A", ""),
    ("it’s «x»", "it’s «x»"),                        # only ASCII punctuation is stripped
    ("Über ANTHEM", "über anthem"),
])
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


def test_exact_match_and_f1():
    assert exact_match("The Denver Broncos!", "denver broncos") == 1
    assert exact_match("Denver", "Denver Broncos") == 0
    # "cat sat on mat" vs "cat on mat": 3 common, P = 3/4, R = 3/3, F1 = 2*(3/4)/(7/4) = 6/7.
    assert f1_score("the cat sat on the mat", "a cat on a mat") == pytest.approx(6 / 7)
    # Counts are clipped: "x x y" vs "x y y" share one x and one y -> P = R = 2/3.
    assert f1_score("x x y", "x y y") == pytest.approx(2 / 3)
    assert f1_score("", "") == 1.0 and f1_score("", "x") == 0.0 and f1_score("x", "the") == 0.0


def test_squad_v1():
    gold = {"q1": ["Denver Broncos", "Broncos"], "q2": ["1990"], "q3": ["Paris"]}
    predictions = {"q1": "broncos", "q2": "in 1990 season", "extra": "ignored"}
    # q1 matches "Broncos": EM 1, F1 1. q2: P = 1/3, R = 1 -> F1 = 2*(1/3)/(4/3) = 1/2.
    # q3 has no prediction: 0. EM = 1/3, F1 = (1 + 1/2 + 0) / 3 = 1/2.
    assert squad_v1_metrics(gold, predictions) == pytest.approx(
        {"exact_match": 100 / 3, "f1": 50.0})
    # v1.1 quirk kept: "" vs "The" is an exact match but F1 0.
    assert squad_v1_metrics({"q": ["The"]}, {"q": ""}) == {"exact_match": 100.0, "f1": 0.0}


GOLD_V2 = {"q1": ["Denver Broncos"], "q2": [], "q3": ["1990", "in 1990"], "q4": []}
PREDICTIONS_V2 = {"q1": "Broncos", "q2": "", "q3": "1990", "q4": "Denver"}


def test_squad_v2_without_na_probs():
    # q1: EM 0, F1 (P 1, R 1/2) = 2/3; q2: "" for no-answer, EM = F1 = 1; q3: 1, 1;
    # q4: an answer for a no-answer question: 0, 0.
    assert squad_v2_metrics(GOLD_V2, PREDICTIONS_V2) == pytest.approx({
        "exact": 50.0, "f1": 100 * (2 / 3 + 1 + 1 + 0) / 4, "total": 4,
        "HasAns_exact": 50.0, "HasAns_f1": 100 * (2 / 3 + 1) / 2, "HasAns_total": 2,
        "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2,
    })


def test_squad_v2_threshold_and_best_threshold():
    na_probs = {"q1": 0.1, "q2": 0.9, "q3": 0.2, "q4": 0.8}
    metrics = squad_v2_metrics(GOLD_V2, PREDICTIONS_V2, na_probs=na_probs, na_prob_thresh=0.5)
    # q2 and q4 exceed 0.5 -> predicted no-answer, both right: EM (0+1+1+1)/4, F1 (2/3+1+1+1)/4.
    assert metrics["exact"] == pytest.approx(75.0)
    assert metrics["f1"] == pytest.approx(100 * (11 / 3) / 4)
    assert metrics["NoAns_exact"] == 100.0 and metrics["HasAns_exact"] == 50.0
    # Search, ascending na_prob q1 .1, q3 .2, q4 .8, q2 .9, from "all no-answer" = 2 right:
    # EM: q1 +0 = 2, q3 +1 = 3 (best, thresh .2), q4 -1 = 2, q2 +0 = 2 -> 3/4.
    # F1: q1 +2/3, q3 +1 = 3 2/3 (best, thresh .2), q4 -1, q2 0 -> (11/3)/4.
    assert metrics["best_exact"] == pytest.approx(75.0)
    assert metrics["best_exact_thresh"] == 0.2
    assert metrics["best_f1"] == pytest.approx(100 * (11 / 3) / 4)
    assert metrics["best_f1_thresh"] == 0.2


def test_squad_v2_missing_values():
    # A missing prediction scores 0, also for a no-answer question.
    metrics = squad_v2_metrics({"q1": [], "q2": ["x"]}, {"q2": "x"})
    assert (metrics["exact"], metrics["NoAns_exact"], metrics["total"]) == (50.0, 0.0, 2)
    with pytest.raises(ValueError,
                       match=r"na_probs has no value for 1 predicted question\(s\), e.g. 'q2'"):
        squad_v2_metrics({"q1": [], "q2": ["x"]}, {"q1": "", "q2": "x"}, na_probs={"q1": 0.0})
