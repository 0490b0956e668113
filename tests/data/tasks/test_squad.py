import json

import numpy as np
import pytest

from keras_electra.data.tasks.squad import (
    answer_token_span, byte_to_char_offsets, doc_spans, max_context_windows, read_squad,
    squad_predictions, squad_windows)
from keras_electra.data.tasks.squad_example import SquadExample
from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.data.vocab import write_vocabulary
from keras_electra.metrics.squad_metrics import squad_v2_metrics
from tests.test_case import CLS, PAD, SEP, shared_data_dir

SQUAD_DEV = shared_data_dir() / "squad_v1.1" / "dev-v1.1.json"

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "notes", ":", "in", "1843", ",",
         "ada", "love", "##lace", "wrote", "the", "on", "engine", ".", "were", "long", "who", "?"]
# 21 pieces: cafe notes : in 1843 , ada love ##lace wrote the notes on the engine . the notes
# were long .  -- "é" is 2 UTF-8 bytes, so a byte offset used as a character offset is off by one.
CONTEXT = "Café notes: in 1843, Ada Lovelace wrote the notes on the engine. The notes were long."
ANSWER_START = 21  # len("Café notes: in 1843, ")


def _squad_json(qas, version="2.0"):
    return json.dumps({"version": version, "data": [
        {"title": "T", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]})


def _examples():
    return [
        SquadExample("q1", "Who wrote the notes?", CONTEXT, "Ada Lovelace", ANSWER_START,
                     ("Ada Lovelace", "Lovelace")),
        SquadExample("q2", "Who were long notes?", CONTEXT, "", -1, (), is_impossible=True),
    ]


@pytest.fixture
def tokenizer(tmp_path):
    write_vocabulary(VOCAB, str(tmp_path / "vocab.txt"))
    tokenizer, _, special = make_tokenizer(str(tmp_path / "vocab.txt"))
    return tokenizer, special


def test_reads_v2_questions(tmp_path):
    path = tmp_path / "dev-v2.0.json"
    path.write_text(_squad_json([
        {"id": "q1", "question": "Who wrote the notes?", "is_impossible": False,
         "answers": [{"text": "Ada Lovelace", "answer_start": 21},
                     {"text": "Lovelace", "answer_start": 25}]},
        {"id": "q2", "question": "Who were long notes?", "is_impossible": True, "answers": [],
         "plausible_answers": [{"text": "The notes", "answer_start": 65}]},
    ]), encoding="utf-8")
    assert read_squad(path) == _examples()


@pytest.mark.parametrize("qas, message", [
    ([{"id": "q9", "question": "?", "answers": [{"text": "Ada", "answer_start": 20}]}],
     r"question q9: expected answer 'Ada' at character 20 of its context, found ' Ad'\."),
    ([{"id": "q9", "question": "?", "answers": []}],
     r"question q9 has no answers and is not is_impossible\."),
    ([{"id": "q9", "answers": [{"text": "Ada", "answer_start": 21}]}],
     r"not in SQuAD's data\[\].paragraphs\[\].qas\[\] layout"),
])
def test_bad_squad_files(tmp_path, qas, message):
    path = tmp_path / "bad.json"
    path.write_text(_squad_json(qas), encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json: " + message):
        read_squad(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json: not a JSON file"):
        read_squad(path)


def test_real_squad_dev():
    examples = read_squad(SQUAD_DEV)
    # SOURCES.md: 10,570 questions, 34,726 answers, all answerable.
    assert len(examples) == 10570
    assert sum(len(e.answers) for e in examples) == 34726
    assert not any(e.is_impossible for e in examples)
    first = examples[0]
    assert first.qas_id == "56be4db0acb8001400a502ec"
    assert first.question == "Which NFL team represented the AFC at Super Bowl 50?"
    assert (first.answer_text, first.answer_start) == ("Denver Broncos", 177)
    assert first.answers == ("Denver Broncos",) * 3
    assert first.context.startswith("Super Bowl 50 was an American football game")


def test_offset_helpers():
    assert byte_to_char_offsets("aé€b").tolist() == [0, 1, 1, 2, 2, 2, 3, 4]
    assert doc_spans(21, 8, 4) == [(0, 8), (4, 8), (8, 8), (12, 8), (16, 5)]
    assert doc_spans(0, 8, 4) == []
    # Piece 6: window 0 gives min(6, 1) context, window 1 min(2, 5) -> window 1.
    assert max_context_windows(doc_spans(21, 8, 4), 21)[6] == 1
    # Pieces at chars [0,4) [5,10) [10,14): an answer from char 6 to 12 overlaps pieces 1..2.
    assert answer_token_span([0, 5, 10], [4, 10, 14], 6, 12) == (1, 2)
    assert answer_token_span([0, 5], [4, 10], 4, 5) is None


def test_windows_cover_a_long_context(tokenizer):
    tokenizer, special = tokenizer
    windows = squad_windows(_examples()[:1], tokenizer, special, max_seq_length=16, doc_stride=4)
    # 5 question pieces -> 16 - 5 - 3 = 8 context pieces a window; 21 pieces, stride 4 ->
    # windows start at pieces 0, 4, 8, 12, 16.
    assert [w.window_index for w in windows] == [0, 1, 2, 3, 4]
    question = [VOCAB.index(t) for t in ["who", "wrote", "the", "notes", "?"]]
    for w, (start, length) in zip(windows, doc_spans(21, 8, 4)):
        assert w.input_ids[:7].tolist() == [CLS] + question + [SEP]
        assert w.input_ids[7 + length] == SEP
        assert (w.input_ids[8 + length:] == PAD).all()
        assert w.input_mask.tolist() == [1] * (8 + length) + [0] * (8 - length)
        assert w.segment_ids.tolist() == [0] * 7 + [1] * (length + 1) + [0] * (8 - length)
        # Each context piece's characters are that piece (lower-cased, accent stripped).
        for position in range(7, 7 + length):
            piece = VOCAB[w.input_ids[position]].removeprefix("##")
            text = CONTEXT[w.char_start[position]:w.char_end[position]]
            assert text.lower().replace("é", "e") == piece
        assert (w.char_start[:7] == -1).all() and (w.char_start[7 + length:] == -1).all()
    # Every context piece is "max context" in exactly one window.
    counts = np.zeros(21, int)
    for w, (start, length) in zip(windows, doc_spans(21, 8, 4)):
        counts[start:start + length] += w.is_max_context[7:7 + length]
    assert counts.tolist() == [1] * 21
    # Only window 1 (pieces 4..11) holds all of "ada love ##lace" (pieces 6..8):
    # positions 7 + 6 - 4 = 9 to 7 + 8 - 4 = 11; the others point at [CLS].
    assert [(w.start_position, w.end_position) for w in windows] == [
        (0, 0), (9, 11), (0, 0), (0, 0), (0, 0)]
    answer_ids = [VOCAB.index(t) for t in ("ada", "love", "##lace")]
    assert windows[1].input_ids[9:12].tolist() == answer_ids
    assert windows[1].answer_text(CONTEXT) == "Ada Lovelace"


def test_long_questions_are_cut(tokenizer):
    tokenizer, special = tokenizer
    windows = squad_windows(_examples()[:1], tokenizer, special, max_seq_length=16,
                            max_query_length=2, doc_stride=4)
    assert windows[0].input_ids[:4].tolist() == [CLS, VOCAB.index("who"), VOCAB.index("wrote"), SEP]
    with pytest.raises(ValueError, match="max_seq_length=8 leaves no room for context"):
        squad_windows(_examples()[:1], tokenizer, special, max_seq_length=8)


def test_a_context_without_pieces_has_no_windows(tokenizer):
    tokenizer, special = tokenizer
    empty = SquadExample("q3", "Who?", "   ", "", -1, (), is_impossible=True)
    windows = squad_windows([empty, *_examples()[:1]], tokenizer, special, max_seq_length=16,
                            doc_stride=4)
    assert {w.example_index for w in windows} == {1}  # the original makes none for it either
    assert max_context_windows([], 0).tolist() == []


def _one_hot_logits(windows, seq):
    start, end = np.zeros((len(windows), seq)), np.zeros((len(windows), seq))
    for row, w in enumerate(windows):
        start[row, w.start_position] += 5.0
        end[row, w.end_position] += 5.0
    return start, end


def test_predictions_recover_the_answer(tokenizer):
    tokenizer, special = tokenizer
    examples = _examples()[:1]
    windows = squad_windows(examples, tokenizer, special, max_seq_length=16, doc_stride=4)
    start, end = _one_hot_logits(windows, 16)
    # "Ada Love" in window 0 (100 + 1) must lose: window 0 is not where piece 6
    # ("ada", position 7 + 6 = 13) has its max context.
    start[0, 13], end[0, 14] = 100.0, 1.0
    predictions = squad_predictions(examples, windows, start, end)
    assert predictions.answers == {"q1": "Ada Lovelace"}
    assert predictions.null_score_diffs == {}
    best = predictions.nbest["q1"][0]
    assert (best["text"], best["start_logit"], best["end_logit"]) == ("Ada Lovelace", 5.0, 5.0)
    # Every other candidate scores 0 + 0, so the best has the largest probability.
    assert best["probability"] == max(e["probability"] for e in predictions.nbest["q1"])
    assert len({e["text"] for e in predictions.nbest["q1"]}) == len(predictions.nbest["q1"]) == 20
    assert abs(sum(e["probability"] for e in predictions.nbest["q1"]) - 1.0) < 1e-9


def test_squad_v2_null_answers(tokenizer):
    tokenizer, special = tokenizer
    examples = _examples()
    windows = squad_windows(examples, tokenizer, special, max_seq_length=16, doc_stride=4)
    assert [w.is_impossible for w in windows] == [False] * 5 + [True] * 5
    assert all(w.start_position == w.end_position == 0 for w in windows[5:])
    start, end = _one_hot_logits(windows, 16)
    predictions = squad_predictions(examples, windows, start, end, version_2=True)
    # q1: null score = min over windows of start[0] + end[0] = 0 (window 1); best span 5 + 5.
    # q2: null score 10 everywhere, every span scores 0 -> diff 10 - 0.
    assert predictions.null_score_diffs == {"q1": -10.0, "q2": 10.0}
    assert predictions.answers == {"q1": "Ada Lovelace", "q2": ""}
    assert predictions.best_non_null["q1"] == "Ada Lovelace"
    assert predictions.best_non_null["q2"] != ""
    # A threshold above q2's diff answers it anyway.
    lenient = squad_predictions(examples, windows, start, end, version_2=True,
                                null_score_diff_threshold=10.0)
    assert lenient.answers["q2"] == lenient.best_non_null["q2"]
    # Scored like the original: best non-null answers + diffs as no-answer probabilities.
    gold = {e.qas_id: list(e.answers) for e in examples}
    metrics = squad_v2_metrics(gold, predictions.best_non_null,
                               na_probs=predictions.null_score_diffs, na_prob_thresh=0.0)
    assert metrics["exact"] == metrics["HasAns_exact"] == metrics["NoAns_exact"] == 100.0


def test_prediction_shapes_are_checked(tokenizer):
    tokenizer, special = tokenizer
    windows = squad_windows(_examples()[:1], tokenizer, special, max_seq_length=16, doc_stride=4)
    with pytest.raises(ValueError, match=r"expected start and end logits of shape \(5, seq\)"):
        squad_predictions(_examples()[:1], windows, np.zeros((4, 16)), np.zeros((4, 16)))
