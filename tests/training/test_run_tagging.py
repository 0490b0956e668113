"""`run_tagging` on a tiny hand-made CoNLL file and a tiny pre-trained model."""

import doctest
import json

import keras
import numpy as np
import pytest

from keras_electra.builders import build_pretrainer
from keras_electra.data.tasks.conll import read_conll
from keras_electra.data.vocab import write_vocabulary
from keras_electra.metrics.tagging_metrics import entity_metrics
from keras_electra.training import run_tagging as run_tagging_module
from keras_electra.training.checkpoints import save_pretrainer
from keras_electra.training.run_tagging import run_tagging
from keras_electra.training.training_summaries import read_scalars
from tests.test_case import tiny_config

# Names and cities, several of which split into two WordPieces (smith ##son, jo ##nes,
# lon ##don, ber ##lin); "brown" is also an ordinary word ("the brown dog").
NAMES = ["Smithson", "Jones", "Brown", "Smith"]
CITIES = ["London", "Berlin", "Paris", "Rome"]
FILLER = ["the", "a", "dog", "met", "saw", "and", "today", "he", "she", "went", "to", "old",
          "man", "with"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "mr", "in", "smith", "##son", "jo",
         "##nes", "brown", "paris", "lon", "##don", "rome", "ber", "##lin", *FILLER]
FAST = dict(learning_rate=1e-2, train_batch_size=16, eval_batch_size=32, max_seq_length=24,
            verbose=0, log_every=5)


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory):
    """A tiny (untrained) pre-training model directory of ours."""
    root = tmp_path_factory.mktemp("pretrained")
    keras.utils.set_random_seed(0)
    vocab = root / "vocab_source.txt"
    write_vocabulary(VOCAB, str(vocab))
    config = tiny_config(vocab_size=len(VOCAB), vocab_file=str(vocab),
                         embedding_size=32, hidden_size=32, intermediate_size=64,
                         max_position_embeddings=32, max_seq_length=32)
    save_pretrainer(build_pretrainer(config), config, str(root / "model"))
    return root / "model"


def _sentence(rng):
    """`[(word, IOB2 tag)]`: a person after "Mr" (one or two names), a city after "in"."""
    chunks = [[(str(w), "O")] for w in rng.choice(FILLER, int(rng.integers(2, 5)))]
    if rng.random() < 0.3:  # "brown" outside a name is an ordinary word
        chunks.insert(int(rng.integers(0, len(chunks) + 1)), [("brown", "O")])
    if rng.random() < 0.8:
        names = rng.choice(NAMES, int(rng.integers(1, 3)), replace=False)
        chunks.insert(int(rng.integers(0, len(chunks) + 1)), [("Mr", "O")] + [
            (str(n), "I-PER" if i else "B-PER") for i, n in enumerate(names)])
    if rng.random() < 0.6:
        chunks.insert(int(rng.integers(0, len(chunks) + 1)),
                      [("in", "O"), (str(rng.choice(CITIES)), "B-LOC")])
    return [word for chunk in chunks for word in chunk]


def _to_iob1(tags):
    """IOB2 -> IOB1: `I-` opens a chunk; `B-` only right after a chunk of the same type."""
    return [("B-" if tag.startswith("B-") and i and tags[i - 1][2:] == tag[2:] else "I-") +
            tag[2:] if tag != "O" else "O" for i, tag in enumerate(tags)]


def _write_conll(path, sentences, iob1=False):
    lines = ["-DOCSTART- -X- -X- O", ""]
    for sentence in sentences:
        tags = [tag for _, tag in sentence]
        if iob1:
            tags = _to_iob1(tags)
        # Column 1: a part-of-speech-like tag (NNP for capitalised words).
        lines += [f"{word} {'NNP' if word[0].isupper() else 'XX'} B-NP {tag}"
                  for (word, _), tag in zip(sentence, tags)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _conll_dir(root, num_train=384, num_dev=48, seed=0, iob1_train=False):
    rng = np.random.default_rng(seed)
    root.mkdir()
    train = [_sentence(rng) for _ in range(num_train)]
    dev = [_sentence(rng) for _ in range(num_dev)]
    return (_write_conll(root / "train.txt", train, iob1=iob1_train),
            _write_conll(root / "valid.txt", dev), dev)


def _read_predictions(path):
    """Sentences of `(word, gold, predicted)` from a conlleval-format file."""
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").split("\n")[:-1]:
        if line:
            current.append(tuple(line.split(" ")))
        else:
            sentences.append(current)
            current = []
    assert not current, "the file must end with a blank line"
    return sentences


def test_learns_the_toy_rule_from_iob1_and_writes_results(tmp_path, pretrained_dir):
    train_file, dev_file, dev = _conll_dir(tmp_path / "data", iob1_train=True)
    assert "B-PER" not in train_file.read_text()  # IOB1: every name opens with I-
    model_dir = tmp_path / "run"
    results = run_tagging(str(train_file), str(dev_file), str(pretrained_dir), str(model_dir),
                          num_train_epochs=10, **FAST)

    saved = json.loads((model_dir / "eval_results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert saved["metrics"]["f1"] >= 0.8, saved["metrics"]
    assert list(results["metrics"]) == ["precision", "recall", "f1", "accuracy"]
    assert set(saved["per_seed"][0]["per_type"]["dev"]) == {"LOC", "PER"}
    assert saved["num_train_steps"] == 10 * (384 // 16)
    assert saved["per_seed"][0]["step"] == saved["num_train_steps"]
    assert saved["train_examples"] == 384
    dev_words = sum(len(s) for s in dev)
    assert saved["eval_sets"] == {"dev": {
        "file": str(dev_file), "sentences": 48, "words": dev_words,
        "truncated_sentences": 0, "truncated_words": 0}}
    # IOB1 input is learned as IOB2; the tag order is O, then sorted.
    assert saved["tags"] == ["O", "B-LOC", "B-PER", "I-PER"]
    assert (model_dir / "tags.txt").read_text() == "O\nB-LOC\nB-PER\nI-PER\n"
    assert (model_dir / "model.keras").is_file()  # the fine-tuned tagger, reloadable
    info = json.loads((model_dir / "task.json").read_text())
    assert (info["kind"], info["labels"], info["vocab_file"]) == \
        ("tagging", saved["tags"], "vocab.txt")
    assert (model_dir / "vocab.txt").is_file()

    predictions = _read_predictions(model_dir / "dev_predictions.txt")
    assert [[(w, g) for w, g, _ in s] for s in predictions] == dev
    assert {p for s in predictions for _, _, p in s} <= set(saved["tags"])
    # The file is conlleval's input: scoring it gives the reported numbers.
    rescored = entity_metrics([[g for _, g, _ in s] for s in predictions],
                              [[p for _, _, p in s] for s in predictions])
    for name in ("precision", "recall", "f1", "accuracy"):
        assert rescored[name] == pytest.approx(saved["metrics"][name])

    train = read_scalars(str(model_dir / "logs" / "train"))
    assert [step for step, _ in train["loss"]] == list(range(5, 241, 5))
    assert "accuracy" in train
    assert read_scalars(str(model_dir / "logs" / "eval"))["f1"] == \
        [(240, pytest.approx(saved["metrics"]["f1"]))]


def test_truncated_words_are_predicted_o_and_counted(tmp_path, pretrained_dir):
    rng = np.random.default_rng(5)
    data = tmp_path / "data"
    data.mkdir()
    train = _write_conll(data / "train.txt", [_sentence(rng) for _ in range(32)])
    # 11 pieces: mr smith ##son saw mr jo ##nes in lon ##don today. max_seq_length 8
    # leaves 6: "Jones" keeps its first piece (jo) and is predicted there; "in",
    # "London" and "today" have no piece left.
    long = [("Mr", "O"), ("Smithson", "B-PER"), ("saw", "O"), ("Mr", "O"), ("Jones", "B-PER"),
            ("in", "O"), ("London", "B-LOC"), ("today", "O")]
    dev = _write_conll(data / "valid.txt", [long, [("Mr", "O"), ("Brown", "B-PER")]])
    test = _write_conll(data / "test.txt", [[("in", "O"), ("Rome", "B-LOC")]])
    model_dir = tmp_path / "run"
    results = run_tagging(str(train), str(dev), str(pretrained_dir), str(model_dir),
                          test_file=str(test), num_train_epochs=1,
                          **dict(FAST, max_seq_length=8))

    assert results["eval_sets"]["dev"]["truncated_sentences"] == 1
    assert results["eval_sets"]["dev"]["truncated_words"] == 3
    assert results["eval_sets"]["test"]["truncated_words"] == 0
    predictions = _read_predictions(model_dir / "dev_predictions.txt")
    assert [len(s) for s in predictions] == [8, 2]
    assert [p for _, _, p in predictions[0][5:]] == ["O", "O", "O"]
    # The cut-off London is a missed gold entity: recall counts it.
    gold = [[g for _, g, _ in s] for s in predictions]
    predicted = [[p for _, _, p in s] for s in predictions]
    assert results["metrics"]["recall"] == pytest.approx(entity_metrics(gold, predicted)["recall"])
    assert results["metrics"]["recall"] <= 3 / 4
    assert list(results["metrics"]) == ["precision", "recall", "f1", "accuracy",
                                        "test_precision", "test_recall", "test_f1",
                                        "test_accuracy"]
    assert len(_read_predictions(model_dir / "test_predictions.txt")) == 1


def test_two_seeds_median_and_seed_dirs(tmp_path, pretrained_dir):
    train_file, dev_file, _ = _conll_dir(tmp_path / "data", num_train=48, num_dev=16)
    model_dir = tmp_path / "run"
    results = run_tagging(str(train_file), str(dev_file), str(pretrained_dir), str(model_dir),
                          num_train_epochs=2, num_seeds=2, max_eval_examples=10, **FAST)
    per_seed = [r["metrics"] for r in results["per_seed"]]
    assert [r["seed"] for r in results["per_seed"]] == [0, 1]
    for name in results["metrics"]:
        assert results["metrics"][name] == pytest.approx(np.median([m[name] for m in per_seed]))
    for seed in (0, 1):
        assert len(_read_predictions(model_dir / f"seed_{seed}" / "dev_predictions.txt")) == 10
        assert list((model_dir / f"seed_{seed}" / "logs" / "train").glob("events.out.*"))
    assert not (model_dir / "dev_predictions.txt").exists()
    assert (model_dir / "tags.txt").exists()


def test_plain_tags_report_accuracy(tmp_path, pretrained_dir):
    train_file, dev_file, _ = _conll_dir(tmp_path / "data", num_train=32, num_dev=8)
    model_dir = tmp_path / "run"
    results = run_tagging(str(train_file), str(dev_file), str(pretrained_dir), str(model_dir),
                          tag_column=1, iob=False, num_train_epochs=1, **FAST)
    assert results["tags"] == ["NNP", "XX"]
    assert list(results["metrics"]) == ["accuracy"]
    predictions = _read_predictions(model_dir / "dev_predictions.txt")
    assert results["metrics"]["accuracy"] == pytest.approx(
        np.mean([g == p for s in predictions for _, g, p in s]))
    assert results["per_seed"][0]["per_type"] == {"dev": {}}


@pytest.mark.parametrize("kwargs, message", [
    (dict(learning_rate=0.0), r"--learning_rate must be positive"),
    (dict(max_seq_length=2), r"--max_seq_length must be >= 3"),
    (dict(max_seq_length=64), r"--max_seq_length=64 exceeds the model's "
                              r"max_position_embeddings \(32\)"),
    (dict(max_eval_examples=0), r"--max_eval_examples must be positive"),
    (dict(dev_file="missing.txt"), r"missing.txt: file not found"),
    (dict(tag_column=1), r"train.txt:3: tag '(NNP|XX)' is not O, B-TYPE or I-TYPE"),
    (dict(init_checkpoint="."), r"--init_checkpoint=.: not a checkpoint this package reads"),
    (dict(tag_column=2, iob=False),
     r"train.txt: every word has the tag 'B-NP' \(--tag_column=2\); a tagger needs at least two"),
])
def test_errors_are_one_line_and_name_the_argument(tmp_path, pretrained_dir, kwargs, message):
    train_file, dev_file, _ = _conll_dir(tmp_path / "data", num_train=8, num_dev=4)
    args = dict(train_file=str(train_file), dev_file=str(dev_file),
                init_checkpoint=str(pretrained_dir), model_dir=str(tmp_path / "run"))
    args.update(kwargs)
    if args["init_checkpoint"] == ".":
        args["init_checkpoint"] = str(tmp_path)
        message = message.replace("=.", f"={tmp_path}")
    with pytest.raises(ValueError, match=message) as raised:
        run_tagging(**args, verbose=0)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "run" / "eval_results.json").exists()


def test_empty_training_file_is_an_error(tmp_path, pretrained_dir):
    train_file, dev_file, _ = _conll_dir(tmp_path / "data", num_train=8, num_dev=4)
    train_file.write_text("-DOCSTART- -X- -X- O\n\n")
    with pytest.raises(ValueError, match=r"data/train.txt: no training sentences"):
        run_tagging(str(train_file), str(dev_file), str(pretrained_dir), str(tmp_path / "run"))


def test_read_back_matches_the_written_iob1(tmp_path):
    _, _, dev = _conll_dir(tmp_path / "data", num_train=4, num_dev=16)
    path = _write_conll(tmp_path / "iob1.txt", dev, iob1=True)
    assert [list(zip(s.words, s.tags)) for s in read_conll(path)] == dev


def test_docstring_examples():
    assert doctest.testmod(run_tagging_module).failed == 0
