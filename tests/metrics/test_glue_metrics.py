import math

import pytest

from keras_electra.data.tasks.glue import GLUE_TASKS
from keras_electra.metrics.glue_metrics import (
    accuracy, f1, glue_metrics, matthews_corrcoef, pearson, spearman)

# 6 binary examples: TP = 2 (rows 0, 1), FN = 1 (row 2), FP = 1 (row 3), TN = 2 (rows 4, 5).
LABELS = [1, 1, 1, 0, 0, 0]
PREDICTIONS = [1, 1, 0, 1, 0, 0]


def test_accuracy():
    # 4 of 6 right.
    assert accuracy(LABELS, PREDICTIONS) == pytest.approx(4 / 6)
    assert accuracy(["entailment", "neutral"], ["entailment", "entailment"]) == 0.5


def test_f1():
    # P = TP / (TP + FP) = 2/3, R = TP / (TP + FN) = 2/3, F1 = 2PR / (P + R) = 2/3.
    assert f1(LABELS, PREDICTIONS) == pytest.approx(2 / 3)
    # No positive predicted: P undefined -> 0, F1 = 0.
    assert f1([1, 0], [0, 0]) == 0.0


def test_matthews_corrcoef():
    # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (4 - 1) / sqrt(3*3*3*3) = 1/3.
    assert matthews_corrcoef(LABELS, PREDICTIONS) == pytest.approx(1 / 3)
    assert matthews_corrcoef(LABELS, [1 - p for p in LABELS]) == pytest.approx(-1.0)
    # A constant prediction (an empty confusion-matrix column) scores 0, as in CoLA's leaderboard.
    assert matthews_corrcoef(LABELS, [1] * 6) == 0.0


def test_pearson_and_spearman():
    # x - 2.5 = (-1.5, -0.5, 0.5, 1.5), y - 2.5 = (-1.5, 0.5, -0.5, 1.5):
    # sum of products 2.25 - 0.25 - 0.25 + 2.25 = 4; sums of squares 5 and 5 -> r = 4/5.
    assert pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # Spearman is Pearson of the ranks: (10, 30, 20, 1000) ranks as (1, 3, 2, 4) -> 0.8,
    # while Pearson of the raw values is pulled by the outlier.
    assert spearman([1, 2, 3, 4], [10, 30, 20, 1000]) == pytest.approx(0.8)
    assert pearson([1, 2, 3, 4], [10, 30, 20, 1000]) != pytest.approx(0.8)
    with pytest.warns(RuntimeWarning, match="constant"):
        assert math.isnan(pearson([1, 2, 3], [2, 2, 2]))


def test_glue_metrics_by_task():
    assert glue_metrics(GLUE_TASKS["mrpc"].metrics, LABELS, PREDICTIONS) == pytest.approx(
        {"f1": 2 / 3, "accuracy": 4 / 6})
    assert glue_metrics(GLUE_TASKS["cola"].metrics, LABELS, PREDICTIONS) == pytest.approx(
        {"mcc": 1 / 3})
    stsb = glue_metrics(GLUE_TASKS["stsb"].metrics, [1.0, 2, 3, 4], [1.0, 3, 2, 4])
    assert stsb == pytest.approx({"pearson": 0.8, "spearman": 0.8})
    assert glue_metrics(GLUE_TASKS["qnli"].metrics, [0, 1], [0, 0]) == {"accuracy": 0.5}


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"unknown GLUE metric\(s\) \['auc'\]"):
        glue_metrics(("accuracy", "auc"), [1], [1])
    with pytest.raises(ValueError, match=r"same length, got shapes \(2,\) and \(3,\)"):
        accuracy([1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="non-empty"):
        f1([], [])
