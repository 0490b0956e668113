"""`run_squad` end to end on the real SQuAD 1.1 files (a train subset, a dev subset)."""

import collections
import json
import re

import keras
import pytest

from keras_electra.builders import build_pretrainer
from keras_electra.data.tasks.squad import read_squad
from keras_electra.data.vocab import REQUIRED_TOKENS, write_vocabulary
from keras_electra.training.checkpoints import save_pretrainer
from keras_electra.training.run_squad import run_squad
from tests.test_case import shared_data_dir, tiny_config

SQUAD = shared_data_dir() / "squad_v1.1"
TRAIN, DEV = SQUAD / "train-subset.json", SQUAD / "dev-v1.1.json"
NUM_TRAIN, NUM_DEV = 300, 200


def _tiny_model_dir(path, vocab_words=4000):
    """An untrained tiny model whose vocabulary is the used questions' most frequent words."""
    counts = collections.Counter()
    for example in read_squad(TRAIN)[:NUM_TRAIN] + read_squad(DEV)[:NUM_DEV]:
        # The same split as BERT's basic tokenizer on ASCII text: words and punctuation.
        counts.update(re.findall(r"\w+|[^\w\s]", f"{example.question} {example.context}".lower()))
    vocab = path.parent / "vocab_source.txt"
    words = [w for w, _ in counts.most_common(vocab_words)]
    write_vocabulary(list(REQUIRED_TOKENS) + words, str(vocab))
    config = tiny_config(vocab_size=len(REQUIRED_TOKENS) + len(words), vocab_file=str(vocab),
                         embedding_size=32, hidden_size=32, num_heads=2, intermediate_size=64,
                         max_position_embeddings=128, max_seq_length=128, dropout=0.1)
    keras.utils.set_random_seed(0)
    save_pretrainer(build_pretrainer(config), config, str(path))
    return path


@pytest.mark.slow
def test_squad_v1_on_real_files(tmp_path):
    model = _tiny_model_dir(tmp_path / "tiny")
    out = tmp_path / "squad"
    results = run_squad("1.1", str(TRAIN), str(DEV), str(model), str(out),
                        max_train_examples=NUM_TRAIN, max_eval_examples=NUM_DEV,
                        max_seq_length=128, doc_stride=64, learning_rate=1e-3,
                        num_train_epochs=1, verbose=0, log_every=10)

    saved = json.loads((out / "eval_results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert (saved["train_examples"], saved["dev_examples"]) == (NUM_TRAIN, NUM_DEV)
    # SQuAD paragraphs often exceed ~60 context pieces: more windows than questions.
    assert saved["train_windows"] > NUM_TRAIN and saved["dev_windows"] > NUM_DEV
    assert saved["num_train_steps"] == -(-saved["train_windows"] // 32)
    for name in ("exact_match", "f1"):
        assert 0.0 <= saved["metrics"][name] <= 100.0, saved["metrics"]

    predictions = json.loads((out / "dev_predictions.json").read_text())
    dev = read_squad(DEV)[:NUM_DEV]
    assert sorted(predictions) == sorted(e.qas_id for e in dev)
    # Answers are context text, at most max_answer_length (30) pieces long.
    for example in dev:
        answer = predictions[example.qas_id]
        assert answer in example.context
        assert len(answer.split()) <= 30
