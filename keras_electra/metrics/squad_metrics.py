"""SQuAD exact match and F1, as the official v1.1 and v2.0 evaluation scripts compute them.

    squad_v1_metrics({e.qas_id: e.answers for e in examples}, predictions.answers)
    squad_v2_metrics(gold, predictions.best_non_null, na_probs=predictions.null_score_diffs,
                     na_prob_thresh=0.0)

Gold answers are given per question id as a list of texts (empty list: no
answer). Scores are percentages, as the official scripts print them.

One difference from the scripts: a question without a prediction scores 0
under both versions (the v1.1 script does this; the v2.0 script drops it
from the total and then fails on the HasAns/NoAns breakdown).
"""

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text):
    """Lower-case, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace.

    In that order, as both official scripts do (so "U.S.A." -> "usa" and
    "the" inside "theatre" stays).

    Example:

    >>> normalize_answer("  The  Theatre, (an) U.S.A. 'hit'!")
    'theatre usa hit'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction, gold):
    """1 if the normalized texts are equal, else 0.

    Example:

    >>> exact_match("the Broncos", "Broncos.")
    1
    """
    return int(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction, gold):
    """Token-overlap F1 of the normalized texts (v2.0: 1.0 if both are empty, 0.0 if one is).

    Example:

    >>> f1_score("Denver Broncos team", "the Denver Broncos")   # P = 2/3, R = 2/2
    0.8
    """
    return _f1(prediction, gold, both_empty=1.0)


def _f1(prediction, gold, both_empty):
    prediction_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not prediction_tokens or not gold_tokens:
        return both_empty if prediction_tokens == gold_tokens else 0.0
    common = sum((collections.Counter(prediction_tokens)
                  & collections.Counter(gold_tokens)).values())
    if not common:
        return 0.0
    precision = common / len(prediction_tokens)
    recall = common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_v1_metrics(gold_answers, predictions):
    """`{"exact_match", "f1"}` (percent) of the official SQuAD 1.1 script.

    Each question scores its best match over its gold answers; a question
    without a prediction scores 0.

    Example:

    >>> squad_v1_metrics({"q1": ["Denver Broncos", "Broncos"], "q2": ["1990"]},
    ...                  {"q1": "the Broncos", "q2": "in 1991"})
    {'exact_match': 50.0, 'f1': 50.0}
    """
    exact, f1 = [], []
    for qid, golds in gold_answers.items():
        prediction = predictions.get(qid)
        if prediction is None:
            exact.append(0)
            f1.append(0.0)
            continue
        exact.append(max(exact_match(prediction, gold) for gold in golds))
        # v1.1: an empty prediction scores F1 0 even against an empty-after-normalization gold.
        f1.append(max(_f1(prediction, gold, both_empty=0.0) for gold in golds))
    return {"exact_match": 100.0 * sum(exact) / len(exact), "f1": 100.0 * sum(f1) / len(f1)}


def squad_v2_metrics(gold_answers, predictions, na_probs=None, na_prob_thresh=1.0):
    """The official SQuAD 2.0 script's numbers (percent).

    A prediction of `""` is the no-answer prediction. With `na_probs`
    (qas_id -> no-answer score, e.g. `SquadPredictions.null_score_diffs`),
    a question whose score exceeds `na_prob_thresh` is predicted no-answer,
    and the best threshold over the data is searched, as in the script.

    Returns:
        `exact`, `f1`, `total`, `HasAns_exact`, `HasAns_f1`, `HasAns_total`,
        `NoAns_exact`, `NoAns_f1`, `NoAns_total` (the groups present), and
        with `na_probs` also `best_exact`, `best_exact_thresh`, `best_f1`,
        `best_f1_thresh`.

    Example:

    >>> gold = {"q1": ["Denver Broncos"], "q2": []}
    >>> m = squad_v2_metrics(gold, {"q1": "Broncos", "q2": ""})
    >>> [round(m[k], 2) for k in ("f1", "HasAns_f1", "NoAns_exact")]  # q1: P 1, R 1/2
    [83.33, 66.67, 100.0]
    """
    has_answer = {qid: bool(golds) for qid, golds in gold_answers.items()}
    exact_raw, f1_raw = {}, {}
    for qid, golds in gold_answers.items():
        # Golds that normalize to nothing do not count; none left means "no answer".
        golds = [gold for gold in golds if normalize_answer(gold)] or [""]
        prediction = predictions.get(qid)
        exact_raw[qid] = 0 if prediction is None else max(exact_match(prediction, g) for g in golds)
        f1_raw[qid] = 0.0 if prediction is None else max(f1_score(prediction, g) for g in golds)
    answered = [qid for qid in gold_answers if qid in predictions]
    if na_probs is not None:
        missing = [qid for qid in answered if qid not in na_probs]
        if missing:
            raise ValueError(f"na_probs has no value for {len(missing)} predicted question(s), "
                             f"e.g. {missing[0]!r}.")
    probs = na_probs if na_probs is not None else {}

    def thresholded(raw):
        return {qid: float(not has_answer[qid]) if probs.get(qid, 0.0) > na_prob_thresh
                else score for qid, score in raw.items()}

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)
    out = _group(exact, f1, list(gold_answers))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [qid for qid in gold_answers if has_answer[qid] == wanted]
        if qids:
            out.update({f"{prefix}_{k}": v for k, v in _group(exact, f1, qids).items()})
    if na_probs is not None:
        for name, raw in (("exact", exact_raw), ("f1", f1_raw)):
            best, threshold = best_threshold(raw, predictions, na_probs, has_answer, answered)
            out[f"best_{name}"], out[f"best_{name}_thresh"] = best, threshold
    return out


def _group(exact, f1, qids):
    return {"exact": 100.0 * sum(exact[q] for q in qids) / len(qids),
            "f1": 100.0 * sum(f1[q] for q in qids) / len(qids), "total": len(qids)}


def best_threshold(raw_scores, predictions, na_probs, has_answer, answered):
    """`(best score in percent, its threshold)` over no-answer thresholds (official v2.0 search).

    Starts from "every question predicted no-answer" (threshold 0.0, as in
    the script) and lowers the bar one question at a time in order of
    `na_probs`: an answerable question then gains its raw score, an
    unanswerable one loses 1 if its prediction is non-empty.
    """
    score = sum(1 for qid in answered if not has_answer[qid])
    best, best_thresh = score, 0.0
    for qid in sorted(answered, key=lambda q: na_probs[q]):
        if has_answer[qid]:
            score += raw_scores[qid]
        elif predictions[qid]:
            score -= 1
        if score > best:
            best, best_thresh = score, na_probs[qid]
    return 100.0 * best / len(raw_scores), float(best_thresh)
