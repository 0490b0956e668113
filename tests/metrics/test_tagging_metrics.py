import pytest

from keras_electra.metrics.tagging_metrics import entity_metrics

# Gold entities: PER (s1 0-1), LOC (s1 3), ORG (s2 1-2), MISC (s2 4) -> 4.
GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O", "B-MISC"]]
# Predicted: the ORG opens with I- after O (a chunk start for conlleval, invalid in strict
# IOB2), the MISC is typed PER.
PREDICTED = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "I-ORG", "I-ORG", "O", "B-PER"]]


def test_conlleval_mode():
    metrics = entity_metrics(GOLD, PREDICTED)
    # Predicted PER, LOC, ORG, PER: 3 of 4 right; 3 of 4 gold found -> P = R = F1 = 3/4.
    # Tokens: 9, wrong at s2[1] and s2[4] -> 7/9.
    assert metrics["precision"] == pytest.approx(0.75)
    assert metrics["recall"] == pytest.approx(0.75)
    assert metrics["f1"] == pytest.approx(0.75)
    assert metrics["accuracy"] == pytest.approx(7 / 9)
    # PER: 2 predicted, 1 right, 1 gold -> P 1/2, R 1, F1 2/3. MISC: never predicted -> 0.
    expected = {
        "LOC": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
        "MISC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        "ORG": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
        "PER": {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1},
    }
    assert sorted(metrics["per_type"]) == sorted(expected)
    for entity_type, values in expected.items():
        assert metrics["per_type"][entity_type] == pytest.approx(values), entity_type


def test_strict_mode():
    metrics = entity_metrics(GOLD, PREDICTED, mode="strict")
    # The I-ORG chunk does not count: predicted PER, LOC, PER, 2 right -> P 2/3, R 2/4,
    # F1 = 2 * (2/3) * (1/2) / (2/3 + 1/2) = 4/7.
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["recall"] == pytest.approx(0.5)
    assert metrics["f1"] == pytest.approx(4 / 7)


def test_bad_inputs():
    with pytest.raises(ValueError, match="mode must be one of"):
        entity_metrics(GOLD, PREDICTED, mode="iob1")
    with pytest.raises(ValueError, match="got 2 gold and 1 predicted sentences"):
        entity_metrics(GOLD, PREDICTED[:1])
    with pytest.raises(ValueError, match="sentence 1: 5 gold tags but 4 predicted"):
        entity_metrics(GOLD, [PREDICTED[0], PREDICTED[1][:4]])


def test_no_entities_at_all():
    # Nothing to find and nothing found: entity scores 0 (as conlleval prints), tokens all right.
    assert entity_metrics([["O", "O"]], [["O", "O"]]) == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 1.0, "per_type": {}}
