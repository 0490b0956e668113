"""Runs `python -m keras_electra.finetune` as a user would, on the real SST-2 files."""

import collections
import json
import os
import subprocess
import sys

import keras
import pytest

from keras_electra.builders import build_pretrainer
from keras_electra.data.vocab import REQUIRED_TOKENS, write_vocabulary
from keras_electra.training.checkpoints import save_pretrainer
from tests.test_case import REPO_ROOT, shared_data_dir, tiny_config

SST2 = shared_data_dir() / "glue" / "SST-2"


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "keras_electra.finetune", *args],
                          capture_output=True, text=True, env=env, cwd=str(REPO_ROOT),
                          timeout=600)


def _tiny_model_dir(path, vocab_words=3000):
    """An untrained tiny model whose vocabulary is SST-2's most frequent words."""
    counts = collections.Counter()
    with open(SST2 / "train.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            counts.update(line.split("\t")[0].split())
    vocab = path.parent / "vocab_source.txt"
    write_vocabulary(list(REQUIRED_TOKENS) + [w for w, _ in counts.most_common(vocab_words)],
                     str(vocab))
    config = tiny_config(vocab_size=len(REQUIRED_TOKENS) + vocab_words, vocab_file=str(vocab),
                         embedding_size=32, hidden_size=32, num_heads=2, intermediate_size=64,
                         max_position_embeddings=64, max_seq_length=64, dropout=0.1)
    keras.utils.set_random_seed(0)
    save_pretrainer(build_pretrainer(config), config, str(path))
    return path


@pytest.mark.slow
def test_finetune_cli_on_sst2(tmp_path):
    model = _tiny_model_dir(tmp_path / "tiny")
    out = tmp_path / "sst2"
    result = _run("--task=sst2", f"--data_dir={SST2}", f"--init_checkpoint={model}",
                  f"--model_dir={out}", "--max_train_examples=2000", "--num_train_epochs=3",
                  "--max_seq_length=64", "--learning_rate=2e-3", "--verbose=2")
    assert result.returncode == 0, result.stderr[-3000:]
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    results = json.loads((out / "eval_results.json").read_text())
    assert printed == {"task": "sst2", "metrics": results["metrics"]}
    assert results["dev_examples"] == {"sst2": 872}
    assert results["train_examples"] == 2000
    assert results["num_train_steps"] == 3 * 63  # ceil(2000 / 32) batches per epoch
    # Well above the majority class (50.9%) after 189 steps from a random init (0.71 here).
    assert 0.6 < results["metrics"]["accuracy"] <= 1.0, results["metrics"]
    rows = (out / "dev_predictions.tsv").read_text().splitlines()
    assert len(rows) == 873 and rows[0] == "index\tprediction\tlabel"
    assert list((out / "logs" / "train").glob("events.out.tfevents.*"))


@pytest.mark.slow
def test_finetune_cli_on_conll2003_ner_from_random_init(tmp_path):
    model = _tiny_model_dir(tmp_path / "tiny")
    out = tmp_path / "ner"
    result = _run("--task=ner", f"--data_dir={shared_data_dir() / 'conll2003'}",
                  f"--init_checkpoint={model}", f"--model_dir={out}", "--random_init",
                  "--max_train_examples=300", "--max_eval_examples=200",
                  "--num_train_epochs=1", "--max_seq_length=64", "--verbose=0")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "eval_results.json").read_text())
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "task": "ner", "metrics": results["metrics"]}
    assert results["hparams"]["random_init"] is True
    assert results["train_examples"] == 300
    assert {"precision", "recall", "f1", "accuracy"} <= set(results["metrics"])
    assert all(0.0 <= results["metrics"][k] <= 1.0 for k in ("precision", "recall", "f1"))
    sentences = (out / "dev_predictions.txt").read_text().strip().split("\n\n")
    assert len(sentences) == 200
    assert (out / "model.keras").is_file()


@pytest.mark.slow
def test_finetune_cli_on_squad_v1(tmp_path):
    model = _tiny_model_dir(tmp_path / "tiny")
    out = tmp_path / "squad"
    squad = shared_data_dir() / "squad_v1.1"
    result = _run("--task=squad", f"--train_file={squad / 'train-subset.json'}",
                  f"--data_dir={squad}", f"--init_checkpoint={model}", f"--model_dir={out}",
                  "--max_train_examples=100", "--max_eval_examples=50", "--num_train_epochs=1",
                  "--max_seq_length=64", "--max_query_length=24", "--doc_stride=32",
                  "--verbose=0")
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "eval_results.json").read_text())
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "task": "squad", "metrics": results["metrics"]}
    assert (results["train_examples"], results["dev_examples"]) == (100, 50)
    assert results["hparams"]["max_seq_length"] == 64
    assert 0.0 <= results["metrics"]["f1"] <= 100.0
    assert len(json.loads((out / "dev_predictions.json").read_text())) == 50


def test_finetune_cli_errors_are_one_line(tmp_path):
    result = _run("--task=sst", f"--data_dir={SST2}", f"--init_checkpoint={tmp_path}",
                  f"--model_dir={tmp_path / 'out'}")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: --task=sst: unknown GLUE task 'sst'; known: cola, sst2")
    result = _run("--task=sst2", f"--data_dir={SST2}", f"--init_checkpoint={tmp_path}",
                  f"--model_dir={tmp_path / 'out'}")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --init_checkpoint={tmp_path}: not a checkpoint this package reads; expected a "
        "keras_electra model directory, a Hugging Face ELECTRA directory, an original ELECTRA "
        "TF1 checkpoint (model.ckpt-N) or a keras-hub ElectraBackbone preset.")


def test_helpfull_documents_flags():
    result = _run("--helpfull")
    for flag in ("--task", "--data_dir", "--init_checkpoint", "--model_dir", "--learning_rate",
                 "--num_train_epochs", "--train_batch_size", "--max_seq_length",
                 "--layerwise_lr_decay", "--weight_decay", "--warmup_proportion", "--num_seeds",
                 "--do_predict", "--max_train_examples", "--verbose"):
        assert flag in result.stdout, flag
