"""Entity-level precision / recall / F1 for IOB tagging, via `seqeval`.

The default mode reproduces the CoNLL `conlleval` script (an `I-X` after
`O` or another type opens a new entity, as in IOB1); `mode="strict"` counts
only well-formed IOB2 entities. Values are fractions.
"""

import warnings

from seqeval import metrics as seqeval_metrics
from seqeval.scheme import IOB2

MODES = ("conlleval", "strict")


def entity_metrics(true_tags, predicted_tags, mode="conlleval"):
    """`{"precision", "recall", "f1", "accuracy", "per_type"}` over sentences of tags.

    Args:
        true_tags, predicted_tags: lists of sentences, each a list of tags
            (`O`, `B-X`, `I-X`), the same lengths.
        mode: `"conlleval"` or `"strict"` (IOB2).

    `accuracy` is per token; `per_type` maps each entity type to its
    precision, recall, f1 and support (gold entities).

    Example:

    >>> m = entity_metrics([["B-PER", "I-PER", "O", "B-LOC"]],
    ...                    [["B-PER", "I-PER", "O", "B-ORG"]])
    >>> m["precision"], m["recall"], m["f1"], m["accuracy"]   # 1 of 2 entities right
    (0.5, 0.5, 0.5, 0.75)
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    if len(true_tags) != len(predicted_tags):
        raise ValueError(
            f"got {len(true_tags)} gold and {len(predicted_tags)} predicted sentences.")
    for i, (gold, predicted) in enumerate(zip(true_tags, predicted_tags)):
        if len(gold) != len(predicted):
            raise ValueError(f"sentence {i}: {len(gold)} gold tags but {len(predicted)} predicted.")
    true_tags, predicted_tags = [list(s) for s in true_tags], [list(s) for s in predicted_tags]
    options = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    with warnings.catch_warnings():
        # With no entity on either side seqeval averages over zero types (numpy's
        # "Mean of empty slice"); the micro scores are then 0, as conlleval prints.
        warnings.simplefilter("ignore", RuntimeWarning)
        report = seqeval_metrics.classification_report(
            true_tags, predicted_tags, output_dict=True, zero_division=0, **options)
    micro = report.pop("micro avg")
    for key in ("macro avg", "weighted avg"):
        report.pop(key, None)
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "accuracy": float(seqeval_metrics.accuracy_score(true_tags, predicted_tags)),
        "per_type": {
            entity_type: {"precision": float(v["precision"]), "recall": float(v["recall"]),
                          "f1": float(v["f1-score"]), "support": int(v["support"])}
            for entity_type, v in sorted(report.items())},
    }
