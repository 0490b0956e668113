"""Answers per question from span logits, in the shapes the SQuAD scripts read."""

import dataclasses
from typing import Dict, List


@dataclasses.dataclass(frozen=True)
class SquadPredictions:
    """The output of `keras_electra.data.tasks.squad.squad_predictions`.

    Args:
        answers: qas_id -> the answer to submit (`""` = no answer under SQuAD 2.0's threshold).
        best_non_null: qas_id -> the best span, thresholds not applied (the
            `predictions.json` the original code writes for SQuAD 2.0).
        null_score_diffs: qas_id -> null score minus best span score (the
            original's `na_prob` file); empty for SQuAD 1.1.
        nbest: qas_id -> up to n best `{"text", "probability", "start_logit",
            "end_logit"}` dicts, best first (`nbest_predictions.json`).

    Example:

    >>> p = SquadPredictions({"q1": ""}, {"q1": "Ada"}, {"q1": 2.5}, {"q1": []})
    >>> p.answers["q1"], p.best_non_null["q1"]
    ('', 'Ada')
    """

    answers: Dict[str, str]
    best_non_null: Dict[str, str]
    null_score_diffs: Dict[str, float]
    nbest: Dict[str, List[dict]]
