"""`run_tagging` on the real CoNLL-2003 files (a slice) with a tiny untrained model."""

import collections
import json

import keras
import pytest

from keras_electra.builders import build_pretrainer
from keras_electra.data.tasks.conll import read_conll
from keras_electra.data.vocab import REQUIRED_TOKENS, write_vocabulary
from keras_electra.training.checkpoints import save_pretrainer
from keras_electra.training.run_tagging import run_tagging
from tests.test_case import shared_data_dir, tiny_config

CONLL = shared_data_dir() / "conll2003"
NUM_TRAIN, NUM_DEV = 500, 400


def _tiny_model_dir(path, vocab_words=3000):
    """An untrained tiny model whose vocabulary is the training file's most frequent words."""
    counts = collections.Counter(
        word.lower() for s in read_conll(CONLL / "train.txt")[:2000] for word in s.words)
    vocab = path.parent / "vocab_source.txt"
    words = [w for w, _ in counts.most_common(vocab_words)]
    write_vocabulary(list(REQUIRED_TOKENS) + words, str(vocab))
    config = tiny_config(vocab_size=len(REQUIRED_TOKENS) + len(words), vocab_file=str(vocab),
                         embedding_size=32, hidden_size=32, num_heads=2, intermediate_size=64,
                         max_position_embeddings=64, max_seq_length=64, dropout=0.1)
    keras.utils.set_random_seed(0)
    save_pretrainer(build_pretrainer(config), config, str(path))
    return path


@pytest.mark.slow
def test_tagging_on_conll2003(tmp_path):
    model = _tiny_model_dir(tmp_path / "tiny")
    out = tmp_path / "ner"
    results = run_tagging(
        str(CONLL / "train.txt"), str(CONLL / "valid.txt"), str(model), str(out),
        max_train_examples=NUM_TRAIN, max_eval_examples=NUM_DEV, num_train_epochs=2,
        learning_rate=2e-3, max_seq_length=64, verbose=0, log_every=10)

    saved = json.loads((out / "eval_results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert saved["tags"] == ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC",
                             "I-ORG", "I-PER"]
    assert saved["train_examples"] == NUM_TRAIN
    assert saved["num_train_steps"] == 2 * 16  # ceil(500 / 32) batches per epoch
    for name in ("precision", "recall", "f1", "accuracy"):
        assert 0.0 <= saved["metrics"][name] <= 1.0, saved["metrics"]

    dev = read_conll(CONLL / "valid.txt")[:NUM_DEV]
    num_words = sum(len(s.words) for s in dev)
    assert saved["eval_sets"]["dev"]["sentences"] == NUM_DEV
    assert saved["eval_sets"]["dev"]["words"] == num_words
    lines = (out / "dev_predictions.txt").read_text(encoding="utf-8").split("\n")
    rows = [line.split(" ") for line in lines if line]
    assert len(rows) == num_words and lines.count("") == NUM_DEV + 1  # + the final newline
    assert [(w, g) for w, g, _ in rows] == [
        (w, g) for s in dev for w, g in zip(s.words, s.tags)]
    assert {p for _, _, p in rows} <= set(saved["tags"])
    assert list((out / "logs" / "train").glob("events.out.tfevents.*"))
