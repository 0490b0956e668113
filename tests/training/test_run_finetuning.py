"""`run_finetuning` on tiny hand-made GLUE-shaped data and a tiny pre-trained model."""

import doctest
import json
import statistics

import keras
import keras_hub
import numpy as np
import pytest

from keras_electra.builders import build_pretrainer
from keras_electra.convert.keras_hub import to_keras_hub
from keras_electra.convert.transformers import to_transformers
from keras_electra.data.vocab import write_vocabulary
from keras_electra.models.task_builders import discriminator_from_pretrainer
from keras_electra.training import run_finetuning as run_finetuning_module
from keras_electra.training.checkpoints import save_pretrainer
from keras_electra.training.run_finetuning import load_pretrained, run_finetuning
from keras_electra.training.training_summaries import read_scalars
from tests.convert.hf_models import write_original_from_pretrainer
from tests.test_case import tiny_batch, tiny_config

WORDS = ["the", "a", "film", "plot", "actor", "story", "music", "is", "was", "quite", "very",
         "dull", "long", "new", "old", "scene", "cast", "ending"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", *WORDS]
# Fast enough for a unit test, strong enough for the toy rule.
FAST = dict(learning_rate=1e-2, train_batch_size=16, eval_batch_size=32, max_seq_length=16,
            warmup_proportion=0.1, verbose=0, log_every=4)


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory):
    """A tiny (untrained) pre-training model directory of ours."""
    root = tmp_path_factory.mktemp("pretrained")
    keras.utils.set_random_seed(0)  # the toy task's accuracy depends a little on the init
    vocab = root / "vocab_source.txt"
    write_vocabulary(VOCAB, str(vocab))
    config = tiny_config(vocab_size=len(VOCAB), vocab_file=str(vocab))
    save_pretrainer(build_pretrainer(config), config, str(root / "model"))
    return root / "model"


def _sentence(rng, positive):
    words = list(rng.choice(WORDS, int(rng.integers(3, 8))))
    if positive:
        words.insert(int(rng.integers(0, len(words) + 1)), "good")
    return " ".join(words)


def _write(path, header, rows):
    lines = ([header] if header else []) + ["\t".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sst2_dir(root, num_train=320, num_dev=64, num_test=10, seed=0):
    """SST-2's layout; a sentence is positive iff it contains "good"."""
    rng = np.random.default_rng(seed)
    root.mkdir()
    for split, n in (("train", num_train), ("dev", num_dev)):
        labels = rng.integers(0, 2, n)
        _write(root / f"{split}.tsv", "sentence\tlabel",
               [(_sentence(rng, label), label) for label in labels])
    _write(root / "test.tsv", "index\tsentence",
           [(i, _sentence(rng, i % 2)) for i in range(num_test)])
    return root


def _read_tsv(path):
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def test_sst2_learns_the_toy_rule_and_writes_results(tmp_path, pretrained_dir):
    data = _sst2_dir(tmp_path / "SST-2")
    model_dir = tmp_path / "run"
    results = run_finetuning("sst2", str(data), str(pretrained_dir), str(model_dir),
                             num_train_epochs=3, do_predict=True, **FAST)

    saved = json.loads((model_dir / "eval_results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert saved["metrics"]["accuracy"] >= 0.9, saved
    assert saved["num_train_steps"] == 3 * (320 // 16)
    assert (saved["train_examples"], saved["dev_examples"]) == (320, {"sst2": 64})
    assert [r["seed"] for r in saved["per_seed"]] == [0]
    assert saved["per_seed"][0]["step"] == 60
    assert saved["hparams"]["learning_rate"] == 1e-2

    rows = _read_tsv(model_dir / "dev_predictions.tsv")
    assert rows[0] == ["index", "prediction", "label"]
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(64)]
    assert {row[1] for row in rows[1:]} <= {"0", "1"}
    dev = _read_tsv(data / "dev.tsv")[1:]
    assert [row[2] for row in rows[1:]] == [row[1] for row in dev]
    accuracy = np.mean([row[1] == row[2] for row in rows[1:]])
    assert accuracy == pytest.approx(saved["metrics"]["accuracy"])

    test = _read_tsv(model_dir / "test_predictions" / "SST-2.tsv")
    assert test[0] == ["index", "prediction"]
    assert [row[0] for row in test[1:]] == [str(i) for i in range(10)]
    assert {row[1] for row in test[1:]} <= {"0", "1"}

    # The saved model (no optimizer) reloads and predicts what the dev file says.
    reloaded = keras.saving.load_model(str(model_dir / "model.keras"))
    assert getattr(reloaded, "optimizer", None) is None
    # ... and the directory is self-contained for `keras_electra.export`.
    assert json.loads((model_dir / "task.json").read_text()) == {
        "task": "sst2", "kind": "classification", "labels": ["0", "1"], "is_pair": False,
        "max_seq_length": 16, "do_lower_case": True, "vocab_file": "vocab.txt"}
    assert (model_dir / "vocab.txt").read_text() == (pretrained_dir / "vocab.txt").read_text()
    from keras_electra.data.tasks.glue import get_glue_task, read_glue
    from keras_electra.data.tasks.glue_dataset import decode_predictions, glue_dataset
    from keras_electra.data.text_pair_encoder import TextPairEncoder

    encoder = TextPairEncoder(str(pretrained_dir / "vocab.txt"), 16)
    dev_examples = read_glue("sst2", str(data), "dev")
    sst2 = get_glue_task("sst2")
    logits = reloaded.predict(glue_dataset(dev_examples, sst2, encoder, 32), verbose=0)
    predicted = decode_predictions(logits, sst2)
    assert [str(p) for p in predicted] == [row[1] for row in rows[1:]]

    train = read_scalars(str(model_dir / "logs" / "train"))
    assert [step for step, _ in train["loss"]] == list(range(4, 61, 4))
    assert train["learning_rate"][-1][1] == pytest.approx(0.0, abs=1e-9)
    assert read_scalars(str(model_dir / "logs" / "eval"))["accuracy"] == \
        [(60, pytest.approx(saved["metrics"]["accuracy"]))]


def test_cola_layout_reports_mcc(tmp_path, pretrained_dir):
    rng = np.random.default_rng(1)
    data = tmp_path / "CoLA"
    data.mkdir()
    for split, n in (("train", 70), ("dev", 32)):  # no header; source, label, mark, sentence
        labels = rng.integers(0, 2, n)
        _write(data / f"{split}.tsv", None,
               [("gj04", label, "" if label else "*", _sentence(rng, label))
                for label in labels])
    results = run_finetuning("cola", str(data), str(pretrained_dir), str(tmp_path / "run"),
                             num_train_epochs=1.5, **FAST)
    # ceil(70 / 16) = 5 batches per epoch (the original pads the last one), 1.5 epochs.
    assert results["num_train_steps"] == 7 and results["per_seed"][0]["step"] == 7
    assert list(results["metrics"]) == ["mcc"]
    assert -1.0 <= results["metrics"]["mcc"] <= 1.0
    rows = _read_tsv(tmp_path / "run" / "dev_predictions.tsv")
    assert len(rows) == 33 and all(len(row) == 3 for row in rows)


STSB_HEADER = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"


def _stsb_dir(root, rng):
    """STS-B's layout; the score is 5 * the fraction of shared words."""
    root.mkdir()

    def row(i, with_score):
        a = list(rng.choice(WORDS, 4, replace=False))
        b = list(a[:int(rng.integers(0, 5))]) + list(rng.choice(WORDS, 2))
        cells = [i, "main-captions", "MSRvid", "2012test", f"{i:04d}", "none", "none",
                 " ".join(a), " ".join(b)]
        return cells + ([f"{5 * len(set(a) & set(b)) / 4:.3f}"] if with_score else [])

    _write(root / "train.tsv", STSB_HEADER + "\tscore", [row(i, True) for i in range(48)])
    _write(root / "dev.tsv", STSB_HEADER + "\tscore", [row(i, True) for i in range(24)])
    _write(root / "test.tsv", STSB_HEADER, [row(i, False) for i in range(6)])
    return root


def test_stsb_regression_two_seeds_median(tmp_path, pretrained_dir):
    data = _stsb_dir(tmp_path / "STS-B", np.random.default_rng(2))
    model_dir = tmp_path / "run"
    results = run_finetuning("stsb", str(data), str(pretrained_dir), str(model_dir),
                             num_train_epochs=1, num_seeds=2, do_predict=True, **FAST)

    assert list(results["metrics"]) == ["pearson", "spearman"]
    # Both orders of every training pair (the original's double_unordered).
    assert results["train_examples"] == 96
    per_seed = [r["metrics"] for r in results["per_seed"]]
    assert [r["seed"] for r in results["per_seed"]] == [0, 1]
    assert per_seed[0] != per_seed[1]  # seeds differ in head init and data order
    for name in ("pearson", "spearman"):
        assert results["metrics"][name] == pytest.approx(
            statistics.median(m[name] for m in per_seed))
    for seed in (0, 1):
        seed_dir = model_dir / f"seed_{seed}"
        rows = _read_tsv(seed_dir / "dev_predictions.tsv")
        assert rows[0] == ["index", "prediction", "label"] and len(rows) == 25
        for _, prediction, label in rows[1:]:
            float(prediction)
            assert 0.0 <= float(label) <= 5.0
        test = _read_tsv(seed_dir / "test_predictions" / "STS-B.tsv")
        assert test[0] == ["index", "prediction"] and len(test) == 7
        assert [float(row[1]) for row in test[1:]]  # scores, not label names
        assert list((seed_dir / "logs" / "train").glob("events.out.tfevents.*"))
    assert not (model_dir / "dev_predictions.tsv").exists()


MNLI_HEADER = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
               "sentence1_parse\tsentence2_parse\tsentence1\tsentence2")
MNLI_LABELS = ("contradiction", "entailment", "neutral")


def test_mnli_scores_both_dev_sets_and_writes_every_submission_file(tmp_path, pretrained_dir):
    rng = np.random.default_rng(3)
    glue = tmp_path / "glue_data"
    data = glue / "MNLI"
    data.mkdir(parents=True)

    def cells(i):
        return [i, i, f"{i}n", "fiction", "(a)", "(b)", "(A)", "(B)",
                _sentence(rng, False), _sentence(rng, False)]

    _write(data / "train.tsv", MNLI_HEADER + "\tlabel1\tgold_label",
           [cells(i) + [MNLI_LABELS[i % 3]] * 2 for i in range(32)])
    dev_header = MNLI_HEADER + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label"
    _write(data / "dev_matched.tsv", dev_header,
           [cells(i) + [MNLI_LABELS[i % 3]] * 6 for i in range(9)])
    _write(data / "dev_mismatched.tsv", dev_header,
           [cells(i) + [MNLI_LABELS[i % 3]] * 6 for i in range(12)])
    _write(data / "test_matched.tsv", MNLI_HEADER, [cells(i) for i in range(5)])
    _write(data / "test_mismatched.tsv", MNLI_HEADER, [cells(i) for i in range(4)])
    (glue / "diagnostic").mkdir()
    _write(glue / "diagnostic" / "diagnostic.tsv", "index\tsentence1\tsentence2",
           [(i, "the film", "a film") for i in range(3)])

    model_dir = tmp_path / "run"
    results = run_finetuning("mnli", str(data), str(pretrained_dir), str(model_dir),
                             num_train_epochs=1, do_predict=True, **FAST)
    assert list(results["metrics"]) == ["accuracy", "mnli_mm_accuracy"]
    assert results["dev_examples"] == {"mnli": 9, "mnli_mm": 12}
    assert len(_read_tsv(model_dir / "dev_predictions.tsv")) == 10
    assert len(_read_tsv(model_dir / "dev_predictions_mnli_mm.tsv")) == 13
    for name, count in (("MNLI-m", 5), ("MNLI-mm", 4), ("AX", 3)):
        rows = _read_tsv(model_dir / "test_predictions" / f"{name}.tsv")
        assert rows[0] == ["index", "prediction"] and len(rows) == count + 1, name
        assert {row[1] for row in rows[1:]} <= set(MNLI_LABELS), name


def test_hugging_face_directory_loads_the_same_discriminator(tmp_path, pretrained_dir):
    ours, config = load_pretrained(str(pretrained_dir))
    hf_dir = tmp_path / "hf"
    to_transformers(ours, str(hf_dir))
    (hf_dir / "vocab.txt").write_text((pretrained_dir / "vocab.txt").read_text())
    pretrainer, hf_config = load_pretrained(str(hf_dir))
    assert hf_config.vocab_file == str(hf_dir / "vocab.txt")
    batch = tiny_batch(seq_length=16, vocab_size=config.vocab_size)
    expected = discriminator_from_pretrainer(ours)(batch)["sequence_output"]
    actual = discriminator_from_pretrainer(pretrainer)(batch)["sequence_output"]
    np.testing.assert_allclose(actual, expected, atol=1e-5)

    (hf_dir / "vocab.txt").unlink()
    with pytest.raises(ValueError, match=r"--init_checkpoint=.*/hf: no vocab.txt; fine-tuning needs"):
        load_pretrained(str(hf_dir))


@pytest.mark.parametrize("kwargs, message", [
    (dict(task="sst"), r"--task=sst: unknown GLUE task 'sst'"),
    (dict(task="mnli_mm"), r"--task=mnli_mm: not a training task"),
    (dict(learning_rate=0.0), r"--learning_rate must be positive"),
    (dict(max_seq_length=2), r"--max_seq_length must be >= 3"),
    (dict(max_seq_length=64), r"--max_seq_length=64 exceeds the model's "
                              r"max_position_embeddings \(16\)"),
    (dict(warmup_proportion=1.5), r"--warmup_proportion must be in \[0, 1\]"),
    (dict(max_train_examples=-1), r"--max_train_examples must be positive"),
    (dict(data_dir="missing"), r"missing/train.tsv: file not found"),
    (dict(init_checkpoint="."), r"--init_checkpoint=.: not a checkpoint this package reads"),
])
def test_errors_are_one_line_and_name_the_argument(tmp_path, pretrained_dir, kwargs, message):
    data = _sst2_dir(tmp_path / "SST-2", num_train=40, num_dev=8)
    args = dict(task="sst2", data_dir=str(data), init_checkpoint=str(pretrained_dir),
                model_dir=str(tmp_path / "run"))
    args.update(kwargs)
    if args["data_dir"] == "missing":
        args["data_dir"] = str(tmp_path / "missing")
    if args["init_checkpoint"] == ".":
        args["init_checkpoint"] = str(tmp_path)
        message = message.replace("=.", f"={tmp_path}")
    with pytest.raises(ValueError, match=message) as raised:
        run_finetuning(**args, verbose=0)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "run" / "eval_results.json").exists()


def test_empty_training_file_is_an_error(tmp_path, pretrained_dir):
    data = _sst2_dir(tmp_path / "SST-2")
    (data / "train.tsv").write_text("sentence\tlabel\n")
    with pytest.raises(ValueError, match=r"SST-2/train.tsv: no training examples"):
        run_finetuning("sst2", str(data), str(pretrained_dir), str(tmp_path / "run"), verbose=0)


def test_docstring_examples():
    assert doctest.testmod(run_finetuning_module).failed == 0


def test_random_init_baseline_starts_from_seeded_random_weights(tmp_path, pretrained_dir):
    data = _sst2_dir(tmp_path / "SST-2", num_train=32, num_dev=16, num_test=0)
    _, config = load_pretrained(str(pretrained_dir))
    keras.utils.set_random_seed(123)  # "pre-trained" weights unlike any seed-0 init
    save_pretrainer(build_pretrainer(config), config, str(tmp_path / "pretrained"))
    pretrained_dir = tmp_path / "pretrained"
    first, again = _FirstWeights(), _FirstWeights()
    run_finetuning("sst2", str(data), str(pretrained_dir), str(tmp_path / "a"),
                   num_train_epochs=1, random_init=True, callbacks=[first], **FAST)
    results = run_finetuning("sst2", str(data), str(pretrained_dir), str(tmp_path / "b"),
                             num_train_epochs=1, random_init=True, callbacks=[again], **FAST)
    assert results["hparams"]["random_init"] is True
    for a, b in zip(first.weights, again.weights, strict=True):  # same seed, same weights
        np.testing.assert_array_equal(a, b)
    pretrained, _ = load_pretrained(str(pretrained_dir))
    table = discriminator_from_pretrainer(pretrained).embeddings.token_embedding.embeddings
    random_tables = [w for w in first.weights if w.shape == tuple(table.shape)]
    assert len(random_tables) == 1
    assert not np.allclose(random_tables[0], table.numpy())  # not the pre-trained weights


class _FirstWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [v.numpy() for v in self.model.trainable_variables]


@pytest.mark.parametrize("source_format", ["original", "keras_hub"])
def test_fine_tuning_starts_from_original_and_keras_hub_checkpoints(tmp_path, pretrained_dir,
                                                                    source_format):
    ours, config = load_pretrained(str(pretrained_dir))
    init_config = None
    if source_format == "original":  # sized (and given its vocabulary) by --init_config
        source = write_original_from_pretrainer(ours, tmp_path / "original")
        init_config = str(tmp_path / "original_config.json")
        config.to_json(init_config)
    else:  # the discriminator encoder and its tokenizer's vocabulary
        source = str(tmp_path / "preset")
        to_keras_hub(ours.discriminator).save_to_preset(source)
        keras_hub.models.ElectraTokenizer(vocabulary=config.vocab_file,
                                          lowercase=True).save_to_preset(source)
    pretrainer, loaded = load_pretrained(source, init_config)
    assert open(loaded.vocab_file).read() == open(config.vocab_file).read()
    for a, b in zip(ours.discriminator.weights, pretrainer.discriminator.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    results = run_finetuning("sst2", str(_sst2_dir(tmp_path / "SST-2", num_train=64, num_dev=16)),
                             source, str(tmp_path / "run"), num_train_epochs=1,
                             init_config=init_config, **FAST)
    assert results["num_train_steps"] == 4 and 0 <= results["metrics"]["accuracy"] <= 1
    if source_format == "original":
        with pytest.raises(ValueError, match=r"^--init_checkpoint=.*: an original ELECTRA "
                                             r"checkpoint stores no sizes; give its"):
            load_pretrained(source)
