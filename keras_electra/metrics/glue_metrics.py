"""GLUE scores over whole prediction arrays (plain numpy, not Keras metrics).

Keras' streaming metrics cannot compute Matthews or rank correlations batch
by batch, so fine-tuning collects predictions and scores them here, as the
original `classification_metrics.py` does. Values are fractions (0.87), not
percentages.
"""

import numpy as np
import scipy.stats
import sklearn.metrics


def _arrays(labels, predictions):
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 1 or not labels.size:
        raise ValueError("expected two non-empty 1-D arrays of the same length, got shapes "
                         f"{labels.shape} and {predictions.shape}.")
    return labels, predictions


def accuracy(labels, predictions):
    """Fraction of exact matches.

    Example:

    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    labels, predictions = _arrays(labels, predictions)
    return float(np.mean(labels == predictions))


def f1(labels, predictions):
    """Binary F1 of class 1 (MRPC's paraphrase, QQP's duplicate).

    Example:

    >>> f1([1, 1, 0, 0], [1, 0, 1, 0])   # P = 1/2, R = 1/2
    0.5
    """
    labels, predictions = _arrays(labels, predictions)
    return float(sklearn.metrics.f1_score(labels, predictions, pos_label=1, zero_division=0.0))


def matthews_corrcoef(labels, predictions):
    """Matthews correlation (CoLA); 0.0 when a row or column of the confusion matrix is empty.

    Example:

    >>> round(matthews_corrcoef([1, 1, 0, 0], [1, 1, 1, 0]), 4)
    0.5774
    """
    labels, predictions = _arrays(labels, predictions)
    return float(sklearn.metrics.matthews_corrcoef(labels, predictions))


def pearson(labels, predictions):
    """Pearson correlation (STS-B); NaN if either side is constant.

    Example:

    >>> pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.5]) > 0.99
    True
    """
    labels, predictions = _arrays(labels, predictions)
    return float(scipy.stats.pearsonr(labels, predictions).statistic)


def spearman(labels, predictions):
    """Spearman rank correlation (STS-B); NaN if either side is constant.

    Example:

    >>> spearman([1.0, 2.0, 3.0], [10.0, 20.0, 90.0])
    1.0
    """
    labels, predictions = _arrays(labels, predictions)
    return float(scipy.stats.spearmanr(labels, predictions).statistic)


METRICS = {
    "accuracy": accuracy,
    "f1": f1,
    "mcc": matthews_corrcoef,
    "pearson": pearson,
    "spearman": spearman,
}


def glue_metrics(metric_names, labels, predictions):
    """`{name: value}` for the names a `GlueTask` lists (`GLUE_TASKS["mrpc"].metrics`).

    Args:
        metric_names: keys of `METRICS`.
        labels, predictions: label ids (classification) or scores (regression).

    Example:

    >>> glue_metrics(("f1", "accuracy"), [1, 1, 0, 0], [1, 0, 1, 0])
    {'f1': 0.5, 'accuracy': 0.5}
    """
    unknown = [name for name in metric_names if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown GLUE metric(s) {unknown}; known: {', '.join(METRICS)}.")
    return {name: METRICS[name](labels, predictions) for name in metric_names}
