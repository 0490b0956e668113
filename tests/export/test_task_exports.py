"""Tagging and SQuAD exports: raw text in, the runners' own predictions out.

Each test fine-tunes a tiny model with the real runner (`run_tagging`,
`run_squad`) on hand-made data, exports the run directory with
`export_saved_model`, serves it in a fresh process that imports only
TensorFlow and TF Text (as TF Serving would), and checks the served outputs
against what the runner wrote and against its Python postprocessing of the
reloaded Keras model (`encode_tagged_sentences` + `word_predictions`;
`squad_windows` + `dev_answers`).
"""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.data.tasks.conll import word_predictions
from keras_electra.data.tasks.squad import read_squad, squad_windows
from keras_electra.data.tasks.squad_example import SquadExample
from keras_electra.data.tasks.tagged_sentence import TaggedSentence
from keras_electra.data.tasks.tagging_dataset import encode_tagged_sentences
from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.data.vocab import write_vocabulary
from keras_electra.export.saved_model_export import export_saved_model
from keras_electra.export.span_module import SpanModule
from keras_electra.models.task_builders import build_task_model, discriminator_from_pretrainer
from keras_electra.training.checkpoints import save_pretrainer
from keras_electra.training.run_finetuning import load_pretrained
from keras_electra.training.run_squad import dev_answers, run_squad, window_features
from keras_electra.training.run_tagging import run_tagging
from tests.test_case import REPO_ROOT, tiny_config

# Tagging: a person after "Mr", a city after "in"; several names split into two pieces.
PEOPLE = ["Smithson", "Jones", "Brown"]
CITIES = ["London", "Berlin", "Paris"]
TAG_FILLER = ["the", "a", "dog", "met", "saw", "and", "today", "he", "went", "to"]
# SQuAD: the answer is the word after "named".
QA_FILLER = ["house", "river", "old", "man", "walked", "near", "green", "field", "boat", "road"]
QA_NAMES = ["alice", "bob", "carol", "dave", "erin"]
QUESTION = "who is named ?"
VOCAB = list(dict.fromkeys([
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "mr", "in", "smith", "##son", "jo", "##nes",
    "brown", "paris", "lon", "##don", "ber", "##lin", "named", "who", "is", "?", "##s",
    *TAG_FILLER, *QA_FILLER, *QA_NAMES]))
TAGGING_LENGTH = 12  # short enough that long sentences lose words
SQUAD = dict(max_seq_length=32, doc_stride=8, max_query_length=8)


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrained")
    keras.utils.set_random_seed(0)
    write_vocabulary(VOCAB, str(root / "vocab_source.txt"))
    config = tiny_config(vocab_size=len(VOCAB), vocab_file=str(root / "vocab_source.txt"),
                         embedding_size=32, hidden_size=32, intermediate_size=64,
                         max_position_embeddings=32, max_seq_length=32)
    save_pretrainer(build_pretrainer(config), config, str(root / "model"))
    return root / "model"


def _serve(export_dir, inputs, tmp_path):
    """`serving_default` of the SavedModel, run in a new process (TF and TF Text only)."""
    inputs_path, out_path = tmp_path / "inputs.json", tmp_path / "outputs.npz"
    inputs_path.write_text(json.dumps(inputs))
    done = subprocess.run([sys.executable, str(REPO_ROOT / "tests/export/fresh_process_main.py"),
                           str(export_dir), "serving_default", str(inputs_path), str(out_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = dict(np.load(out_path, allow_pickle=True))
    return {name: (np.vectorize(bytes.decode, otypes=[object])(value)
                   if value.dtype == object else value) for name, value in outputs.items()}


# -- tagging ---------------------------------------------------------------------------------

def _tagged_sentence(rng):
    words = [(str(w), "O") for w in rng.choice(TAG_FILLER, int(rng.integers(1, 4)))]
    if rng.random() < 0.8:
        at = int(rng.integers(0, len(words) + 1))
        words[at:at] = [("Mr", "O"), (str(rng.choice(PEOPLE)), "B-PER")]
    if rng.random() < 0.6:
        at = int(rng.integers(0, len(words) + 1))
        words[at:at] = [("in", "O"), (str(rng.choice(CITIES)), "B-LOC")]
    return words


def _write_conll(path, sentences):
    lines = [f"{word} {tag}" for sentence in sentences for word, tag in sentence + [("", "")]]
    path.write_text("\n".join(line.strip() for line in lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow  # fine-tunes, exports and serves: ~15-30 s
def test_tagger_serves_the_runners_word_tags(pretrained_dir, tmp_path):
    rng = np.random.default_rng(0)
    train = _write_conll(tmp_path / "train.txt", [_tagged_sentence(rng) for _ in range(64)])
    dev_sentences = [_tagged_sentence(rng) for _ in range(12)]
    # Long enough to be cut at TAGGING_LENGTH - 2 = 10 pieces.
    dev_sentences.append([("Mr", "O"), ("Smithson", "B-PER"), ("met", "O"), ("Mr", "O"),
                          ("Jones", "B-PER"), ("in", "O"), ("London", "B-LOC"), ("and", "O"),
                          ("Berlin", "B-LOC"), ("today", "O")])
    dev = _write_conll(tmp_path / "dev.txt", dev_sentences)
    run_dir = tmp_path / "run"
    results = run_tagging(str(train), str(dev), str(pretrained_dir), str(run_dir),
                          num_train_epochs=2, learning_rate=1e-2, train_batch_size=16,
                          max_seq_length=TAGGING_LENGTH, verbose=0)
    assert results["eval_sets"]["dev"]["truncated_words"] > 0
    export_dir = tmp_path / "serving" / "ner" / "1"
    assert export_saved_model(str(run_dir), str(export_dir))["kind"] == "tagging"

    odd = ["", "   ", "Café 日本 😀 Smithson", "😀😀", "Mr\u200b Jones\tin  Paris\n",
           "Mr Jones " * 50]
    texts = [" ".join(word for word, _ in s) for s in dev_sentences] + odd
    served = _serve(export_dir, {"text": texts}, tmp_path)

    # The runner's dev predictions, word for word; words it cut are "" and unmasked here.
    runner = [line.split(" ") for line in
              (run_dir / "dev_predictions.txt").read_text(encoding="utf-8").split("\n") if line]
    served_dev = [(w, t, m) for words, tags, mask in zip(
        served["words"][:len(dev_sentences)], served["tags"], served["word_mask"])
        for w, t, m in zip(words, tags, mask) if w]
    assert [w for w, *_ in served_dev] == [w for w, *_ in runner]
    assert [t if m else "O" for _, t, m in served_dev] == [p for *_, p in runner]
    # The long sentence: "... in lon ##don" fills the 10 pieces; "and Berlin today" are cut.
    assert [w for w, _, m in served_dev if not m] == ["and", "Berlin", "today"]
    assert all(t == "" for _, t, m in served_dev if not m)

    # The Keras model + the runner's featurization, on every text (odd ones included).
    model = keras.saving.load_model(str(run_dir / "model.keras"))
    tags = (run_dir / "tags.txt").read_text().split()
    tokenizer, _, special = make_tokenizer(str(run_dir / "vocab.txt"))
    sentences = [TaggedSentence(tuple(t.split()), ("O",) * len(t.split())) for t in texts]
    encoded = encode_tagged_sentences(sentences, tokenizer, special, TAGGING_LENGTH)
    logits = np.asarray(model({k: encoded[k] for k in ("input_ids", "input_mask",
                                                       "segment_ids")}))
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    for i, (text, sentence) in enumerate(zip(texts, sentences)):
        count = len(sentence.words)
        expected = word_predictions(np.asarray(tags, object)[logits[i].argmax(-1)],
                                    encoded["word_ids"][i], count, "")
        assert list(served["words"][i][:count]) == list(sentence.words), text
        assert list(served["tags"][i][:count]) == expected, text
        assert list(served["word_mask"][i][:count]) == [int(t != "") for t in expected]
        starts, ends = served["start_offsets"][i][:count], served["end_offsets"][i][:count]
        assert [text[s:e] for s, e in zip(starts, ends)] == list(sentence.words)
        assert (served["start_offsets"][i][count:] == -1).all()
        assert (served["words"][i][count:] == "").all()
        first = [p for p in range(TAGGING_LENGTH) if encoded["word_ids"][i][p] >= 0
                 and encoded["word_ids"][i][p] != encoded["word_ids"][i][p - 1]]
        np.testing.assert_allclose(served["tag_probability"][i][:len(first)],
                                   probabilities[i, first].max(-1), atol=1e-5)
    assert served["words"].shape[1] == 100  # "Mr Jones " * 50
    assert served["word_mask"][-1].sum() == 7  # (mr jo ##nes) x 3 + mr: 10 pieces
    assert texts[-2][served["start_offsets"][-2][1]:served["end_offsets"][-2][1]] == "Jones"


# -- SQuAD -----------------------------------------------------------------------------------

def _squad_question(rng, index, answerable):
    words = [str(w) for w in rng.choice(QA_FILLER + QA_NAMES, int(rng.integers(20, 40)))]
    qa = {"id": f"q{index}", "question": QUESTION}
    if answerable:
        at = int(rng.integers(0, len(words) + 1))
        words[at:at] = ["named", str(rng.choice(QA_NAMES))]
        start = len(" ".join(words[:at + 1])) + 1
        qa["answers"] = [{"text": words[at + 1], "answer_start": start}]
    else:
        qa.update(is_impossible=True, answers=[])
    return {"context": " ".join(words), "qas": [qa]}


def _squad_file(path, rng, count, impossible):
    paragraphs = [_squad_question(rng, f"{path.stem}{i}", rng.random() >= impossible)
                  for i in range(count)]
    path.write_text(json.dumps({"version": "x", "data": [{"title": "t",
                                                           "paragraphs": paragraphs}]}))
    return path


@pytest.mark.slow  # fine-tunes, exports and serves: ~15-30 s each
@pytest.mark.parametrize("version, answerable_classifier, decoding", [
    ("1.1", True, dict()),  # n_best 20 > window width, answers up to 30 pieces
    ("2.0", True, dict(n_best_size=3, max_answer_length=2)),
    ("2.0", False, dict(n_best_size=5, max_answer_length=3)),
])
def test_span_module_answers_as_the_runner(pretrained_dir, tmp_path, version,
                                           answerable_classifier, decoding):
    rng = np.random.default_rng(1)
    impossible = 0.0 if version == "1.1" else 0.4
    train = _squad_file(tmp_path / "train.json", rng, 48, impossible)
    dev = _squad_file(tmp_path / "dev.json", rng, 10, impossible)
    run_dir = tmp_path / "run"
    run_squad(version, str(train), str(dev), str(pretrained_dir), str(run_dir),
              num_train_epochs=1, learning_rate=3e-3, train_batch_size=16, verbose=0,
              answerable_classifier=answerable_classifier, **SQUAD, **decoding)
    info = json.loads((run_dir / "task.json").read_text())
    answers = json.loads((run_dir / "dev_predictions.json").read_text())
    if version == "2.0":
        best = json.loads((run_dir / "dev_best_non_null.json").read_text())
        odds = json.loads((run_dir / "null_odds.json").read_text())
        assert all(answers[q] == ("" if odds[q] > info["null_odds_threshold"] else best[q])
                   for q in odds)
        # A tiny model's no-answer scores barely vary: a threshold amid them (written
        # to task.json, which the export reads) serves both verdicts.
        finite = sorted(v for v in odds.values() if np.isfinite(v))
        middle = finite[len(finite) // 2 - 1:][:2]
        info["null_odds_threshold"] = sum(middle) / 2
        (run_dir / "task.json").write_text(json.dumps(info))
        answers = {q: "" if odds[q] > info["null_odds_threshold"] else best[q] for q in odds}
    export_dir = tmp_path / "serving" / "squad" / "2"
    assert export_saved_model(str(run_dir), str(export_dir))["kind"] == "span"

    examples = read_squad(dev)
    long_context = " ".join(rng.choice(QA_FILLER + QA_NAMES, 120)) + " named bob"
    extra = [("who is named ?", long_context),  # 14 windows
             ("", "an empty question named carol"),
             ("who is named erin ? " * 5, "a question longer than max_query_length"),
             ("Who?", "Café 日本 😀 named Érin, then dogs near the river."),
             ("who?", "named"), ("😀", "😀 alice")]
    examples += [SquadExample(f"x{i}", q, c, "", -1, (), True) for i, (q, c) in enumerate(extra)]
    empty = [("who is named ?", ""), ("who?", "  \n")]
    served = _serve(export_dir, {"question": [e.question for e in examples] + [q for q, _ in empty],
                                 "context": [e.context for e in examples] + [c for _, c in empty]},
                    tmp_path)

    # The runner's own files for the dev questions.
    dev_ids = [e.qas_id for e in examples[:10]]
    assert list(served["answer"][:10]) == [answers[q] for q in dev_ids]
    if version == "2.0":
        assert list(served["best_span"][:10]) == [best[q] for q in dev_ids]
        np.testing.assert_allclose(served["null_odds"][:10], [odds[q] for q in dev_ids],
                                   atol=1e-4)
        assert served["has_answer"][:10].tolist() == [
            odds[q] <= info["null_odds_threshold"] for q in dev_ids]
        assert 0 < served["has_answer"][:10].sum() < 10

    # The runner's postprocessing of the reloaded model, on every question.
    model = keras.saving.load_model(str(run_dir / "model.keras"))
    tokenizer, _, special = make_tokenizer(str(run_dir / "vocab.txt"))
    windows = squad_windows(examples, tokenizer, special, **SQUAD)
    assert sum(w.example_index == 10 for w in windows) >= 10
    outputs = {k: np.asarray(v) for k, v in model(window_features(windows)).items()}
    expected = dev_answers(examples, windows, outputs, version == "2.0", info["n_best_size"],
                           info["max_answer_length"], info["null_odds_threshold"])
    assert list(served["answer"][:len(examples)]) == [
        expected["answers"][e.qas_id] for e in examples]
    for i, example in enumerate(examples):
        start, end = served["start_offset"][i], served["end_offset"][i]
        span = expected["best_non_null"][example.qas_id]  # "": no valid pair in the n best
        assert (start >= 0, np.isfinite(served["score"][i])) == (span != "",) * 2
        if span:
            assert example.context[start:end] == span
    assert (served["start_offset"][:10] >= 0).mean() > 0.5

    # An empty context has no window, hence no span (the runner cannot window it at all).
    assert list(served["answer"][-2:]) == ["", ""]
    assert served["start_offset"][-2:].tolist() == [-1, -1]
    assert np.isneginf(served["score"][-2:]).all()
    if version == "2.0":
        assert served["has_answer"][-2:].tolist() == [False, False]


@pytest.mark.parametrize("doc_stride", [1, 3, 40])  # 40: more than a window holds
def test_in_graph_windows_are_squad_windows(pretrained_dir, doc_stride):
    """Window inputs, character offsets and max-context marks, position for position."""
    pretrainer, config = load_pretrained(str(pretrained_dir))
    model = build_task_model("span_extraction", discriminator_from_pretrainer(pretrainer))
    info = dict(max_seq_length=16, doc_stride=doc_stride, max_query_length=5,
                max_answer_length=30, n_best_size=20, do_lower_case=True)
    module = SpanModule(model, config.vocab_file, info)
    rng = np.random.default_rng(doc_stride)
    examples = [SquadExample(f"q{i}", " ".join(rng.choice(QA_NAMES, i % 7)),
                             " ".join(rng.choice(QA_FILLER + ["Café", "日本"], 1 + 3 * i)),
                             "", -1, (), True) for i in range(12)]
    features, windows = module._windows(tf.constant([e.question for e in examples]),
                                        tf.constant([e.context for e in examples]))
    tokenizer, _, special = make_tokenizer(config.vocab_file)
    expected = squad_windows(examples, tokenizer, special, max_seq_length=16,
                             max_query_length=5, doc_stride=doc_stride)
    assert windows["example"].numpy().tolist() == [w.example_index for w in expected]
    assert windows["window_index"].numpy().tolist() == [w.window_index for w in expected]
    width = features["input_ids"].shape[1]
    for name in ("input_ids", "input_mask", "segment_ids"):
        runner = window_features(expected)[name]
        np.testing.assert_array_equal(features[name].numpy(), runner[:, :width], err_msg=name)
        assert not runner[:, width:].any()
    for name in ("char_start", "char_end", "is_max_context"):
        runner = np.stack([getattr(w, name) for w in expected])
        np.testing.assert_array_equal(windows[name].numpy(), runner[:, :width], err_msg=name)
