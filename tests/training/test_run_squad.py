"""`run_squad` on tiny hand-made SQuAD-shaped files and a tiny pre-trained model.

The toy rule: the answer is the word after "named". Contexts are ~3 windows
long at max_seq_length 32 / doc_stride 8, so the runner must pick the answer
from the right window (and, for SQuAD 2.0, judge the whole question).
"""

import doctest
import json
import statistics

import keras
import numpy as np
import pytest

from keras_electra.builders import build_pretrainer
from keras_electra.data.tasks.squad import read_squad, squad_windows
from keras_electra.data.tokenizer import make_tokenizer
from keras_electra.data.vocab import write_vocabulary
from keras_electra.metrics.squad_metrics import squad_v1_metrics, squad_v2_metrics
from keras_electra.training import run_squad as run_squad_module
from keras_electra.training.checkpoints import save_pretrainer
from keras_electra.training.run_squad import min_null_odds, run_squad, window_features
from keras_electra.training.training_summaries import read_scalars
from tests.test_case import tiny_config

FILLER = ["the", "a", "house", "river", "old", "man", "walked", "near", "green", "field",
          "and", "saw", "boat", "small", "town", "with", "dog", "at", "night", "road"]
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "oscar"]
QUESTION = "who is named ?"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "named", "who", "is", "?", *FILLER,
         *NAMES]
# Questions take 4 pieces: 32 - 4 - 3 = 25 context pieces a window. With these settings
# the toy rule was learnt to >= 92% EM, SQuAD 1.1 and 2.0 alike, on each of 4 data seeds.
FAST = dict(max_seq_length=32, doc_stride=8, max_query_length=8, train_batch_size=32,
            eval_batch_size=64, learning_rate=3e-3, warmup_proportion=0.3, verbose=0,
            log_every=10)


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory):
    """A tiny (untrained) pre-training model directory of ours."""
    root = tmp_path_factory.mktemp("pretrained")
    keras.utils.set_random_seed(0)
    vocab = root / "vocab_source.txt"
    write_vocabulary(VOCAB, str(vocab))
    config = tiny_config(vocab_size=len(VOCAB), vocab_file=str(vocab), embedding_size=64,
                         hidden_size=64, num_heads=4, intermediate_size=128,
                         max_position_embeddings=32, max_seq_length=32)
    save_pretrainer(build_pretrainer(config), config, str(root / "model"))
    return root / "model"


def _question(rng, index, answerable):
    """A ~34-word context; answerable ones hold "named <name>" once, among distractor names."""
    words = list(rng.choice(FILLER, 30))
    for _ in range(2):  # names not after "named": the model must use the cue
        words.insert(int(rng.integers(1, len(words))), str(rng.choice(NAMES)))
    qa = {"id": f"q{index}", "question": QUESTION}
    if answerable:
        name = str(rng.choice(NAMES))
        at = int(rng.integers(0, len(words) + 1))
        words[at:at] = ["named", name]
        context = " ".join(words)
        start = len(" ".join(words[:at + 1])) + 1
        qa["answers"] = [{"text": name, "answer_start": start}]
    else:
        context = " ".join(words)
        qa.update(is_impossible=True, answers=[],
                  plausible_answers=[{"text": words[3], "answer_start": context.index(words[3])}])
    return {"context": context, "qas": [qa]}


def _squad_file(path, num_questions, seed, impossible_fraction=0.0):
    rng = np.random.default_rng(seed)
    paragraphs = [_question(rng, f"{seed}_{i}", rng.random() >= impossible_fraction)
                  for i in range(num_questions)]
    version = "2.0" if impossible_fraction else "1.1"
    path.write_text(json.dumps({"version": version,
                                "data": [{"title": "toy", "paragraphs": paragraphs}]}),
                    encoding="utf-8")
    return path


def test_squad_v1_learns_the_toy_rule_and_writes_results(tmp_path, pretrained_dir):
    train = _squad_file(tmp_path / "train.json", 400, seed=0)
    dev = _squad_file(tmp_path / "dev.json", 60, seed=1)
    model_dir = tmp_path / "run"
    results = run_squad("1.1", str(train), str(dev), str(pretrained_dir), str(model_dir),
                        num_train_epochs=8, **FAST)

    saved = json.loads((model_dir / "eval_results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert list(saved["metrics"]) == ["exact_match", "f1"]
    assert saved["metrics"]["exact_match"] >= 80.0, saved["metrics"]
    assert saved["metrics"]["f1"] >= 80.0, saved["metrics"]
    assert (saved["task"], saved["version"]) == ("squad", "1.1")
    assert (saved["train_examples"], saved["dev_examples"]) == (400, 60)
    # Every ~34-word context needs 2 or 3 windows of 25 pieces at stride 8.
    assert 2 * 400 <= saved["train_windows"] <= 3 * 400
    assert 2 * 60 <= saved["dev_windows"] <= 3 * 60
    assert saved["num_train_steps"] == 8 * -(-saved["train_windows"] // 32)
    assert saved["per_seed"][0]["step"] == saved["num_train_steps"]
    assert saved["hparams"]["max_seq_length"] == 32 and saved["hparams"]["doc_stride"] == 8
    assert not saved["hparams"]["answerable_classifier"]

    # The official prediction file: every dev question, answer text; it scores the same.
    predictions = json.loads((model_dir / "dev_predictions.json").read_text())
    examples = read_squad(dev)
    assert sorted(predictions) == sorted(e.qas_id for e in examples)
    assert all(isinstance(text, str) for text in predictions.values())
    assert squad_v1_metrics({e.qas_id: list(e.answers) for e in examples},
                            predictions) == saved["metrics"]
    assert not (model_dir / "null_odds.json").exists()

    train_logs = read_scalars(str(model_dir / "logs" / "train"))
    assert {"loss", "start_logits_loss", "end_logits_loss", "learning_rate"} <= set(train_logs)
    assert [step for step, _ in train_logs["loss"]] == \
        list(range(10, saved["num_train_steps"] + 1, 10))
    evals = read_scalars(str(model_dir / "logs" / "eval"))
    assert evals["f1"] == [(saved["num_train_steps"], pytest.approx(saved["metrics"]["f1"]))]


def test_squad_v2_answerability_head_and_null_odds(tmp_path, pretrained_dir):
    train = _squad_file(tmp_path / "train.json", 400, seed=2, impossible_fraction=0.4)
    dev = _squad_file(tmp_path / "dev.json", 50, seed=3, impossible_fraction=0.4)
    model_dir = tmp_path / "run"
    results = run_squad("2.0", str(train), str(dev), str(pretrained_dir), str(model_dir),
                        num_train_epochs=10, **FAST)

    metrics = results["metrics"]
    assert set(metrics) == {
        "exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact",
        "NoAns_f1", "NoAns_total", "best_exact", "best_exact_thresh", "best_f1",
        "best_f1_thresh"}
    examples = read_squad(dev)
    gold = {e.qas_id: list(e.answers) for e in examples}
    num_impossible = sum(e.is_impossible for e in examples)
    assert 0 < num_impossible < len(examples)
    assert (metrics["total"], metrics["NoAns_total"]) == (50, num_impossible)
    assert (results["task"], results["version"]) == ("squad_v2", "2.0")
    assert results["hparams"]["answerable_classifier"]
    assert results["hparams"]["null_odds_threshold"] == -2.75
    assert metrics["exact"] >= 80.0 and metrics["best_f1"] >= 80.0, metrics
    assert metrics["HasAns_exact"] >= 70.0 and metrics["NoAns_exact"] >= 80.0, metrics

    predictions = json.loads((model_dir / "dev_predictions.json").read_text())
    best = json.loads((model_dir / "dev_best_non_null.json").read_text())
    odds = json.loads((model_dir / "null_odds.json").read_text())
    assert sorted(predictions) == sorted(best) == sorted(odds) == sorted(gold)
    assert all(isinstance(value, float) for value in odds.values())
    assert all(best.values())  # every question has a best span to fall back on
    # "" exactly where the no-answer score passes the threshold, else the best span.
    assert all(predictions[q] == ("" if odds[q] > -2.75 else best[q]) for q in gold)
    # The files reproduce the reported numbers (as the official script's -n / -t would).
    assert squad_v2_metrics(gold, best, odds, na_prob_thresh=-2.75) == pytest.approx(metrics)
    plain = squad_v2_metrics(gold, predictions)
    assert (plain["exact"], plain["f1"]) == pytest.approx((metrics["exact"], metrics["f1"]))
    assert "answerable_logits_loss" in read_scalars(str(model_dir / "logs" / "train"))

    # The saved model (no optimizer) reloads and gives the same no-answer scores.
    reloaded = keras.saving.load_model(str(model_dir / "model.keras"))
    assert getattr(reloaded, "optimizer", None) is None
    info = json.loads((model_dir / "task.json").read_text())
    assert (info["kind"], info["version_2"], info["max_seq_length"], info["doc_stride"]) == \
        ("span", True, 32, 8)
    tokenizer, _, special = make_tokenizer(str(pretrained_dir / "vocab.txt"))
    windows = squad_windows(examples, tokenizer, special, max_seq_length=32, doc_stride=8,
                            max_query_length=8)
    outputs = reloaded.predict(window_features(windows), verbose=0)
    reloaded_odds = min_null_odds(examples, windows, outputs["answerable_logits"])
    assert reloaded_odds == pytest.approx(odds, abs=1e-4)


def test_squad_v2_null_span_scoring_two_seeds_median(tmp_path, pretrained_dir):
    train = _squad_file(tmp_path / "train.json", 40, seed=4, impossible_fraction=0.5)
    dev = _squad_file(tmp_path / "dev.json", 12, seed=5, impossible_fraction=0.5)
    model_dir = tmp_path / "run"
    results = run_squad("2.0", str(train), str(dev), str(pretrained_dir), str(model_dir),
                        num_train_epochs=1, num_seeds=2, answerable_classifier=False,
                        max_eval_examples=10, **FAST)
    assert results["hparams"]["null_odds_threshold"] == 0.0
    assert not results["hparams"]["answerable_classifier"]
    assert results["dev_examples"] == 10
    per_seed = [r["metrics"] for r in results["per_seed"]]
    assert [r["seed"] for r in results["per_seed"]] == [0, 1]
    for name in ("exact", "f1", "best_f1", "NoAns_exact"):
        assert results["metrics"][name] == pytest.approx(
            statistics.median(m[name] for m in per_seed))
    gold = {e.qas_id: list(e.answers) for e in read_squad(dev)[:10]}
    seed_odds = []
    for seed in (0, 1):
        seed_dir = model_dir / f"seed_{seed}"
        odds = json.loads((seed_dir / "null_odds.json").read_text())
        best = json.loads((seed_dir / "dev_best_non_null.json").read_text())
        predictions = json.loads((seed_dir / "dev_predictions.json").read_text())
        assert sorted(odds) == sorted(best) == sorted(predictions) == sorted(gold)
        # Null span score minus best span score, against 0.0.
        assert all(predictions[q] == ("" if odds[q] > 0.0 else best[q]) for q in gold)
        assert squad_v2_metrics(gold, best, odds, na_prob_thresh=0.0) == \
            pytest.approx(per_seed[seed])
        assert read_scalars(str(seed_dir / "logs" / "eval"))["f1"][0][1] == \
            pytest.approx(per_seed[seed]["f1"])
        seed_odds.append(odds)
    assert seed_odds[0] != seed_odds[1]  # seeds differ in head init and data order
    assert not (model_dir / "dev_predictions.json").exists()
    assert json.loads((model_dir / "eval_results.json").read_text())["metrics"] == \
        pytest.approx(results["metrics"])


@pytest.mark.parametrize("kwargs, message", [
    (dict(version="3.0"), r"run_squad: version must be one of 1.1, 2.0, got '3.0'"),
    (dict(learning_rate=0.0), r"--learning_rate must be positive"),
    (dict(doc_stride=0), r"--doc_stride must be positive"),
    (dict(max_query_length=30), r"--max_seq_length=32 leaves no room for context after a "
                                r"--max_query_length=30 question"),
    (dict(max_seq_length=64, max_query_length=8),
     r"--max_seq_length=64 exceeds the model's max_position_embeddings \(32\)"),
    (dict(max_eval_examples=-1), r"--max_eval_examples must be positive"),
    (dict(train_file="missing.json"), r"missing.json: file not found"),
    (dict(version="1.1", impossible=True), r"train.json: \d+ unanswerable \(is_impossible\) "
                                           r"question\(s\); that is SQuAD 2.0"),
    (dict(init_checkpoint="."), r"--init_checkpoint=.*: not a checkpoint this package reads"),
])
def test_errors_are_one_line_and_name_the_argument(tmp_path, pretrained_dir, kwargs, message):
    impossible = kwargs.pop("impossible", False)
    train = _squad_file(tmp_path / "train.json", 8, seed=6,
                        impossible_fraction=0.5 if impossible else 0.0)
    args = dict(version="1.1", train_file=str(train), dev_file=str(train),
                init_checkpoint=str(pretrained_dir), model_dir=str(tmp_path / "run"))
    args.update(FAST)
    args.update(kwargs)
    if args["train_file"] == "missing.json":
        args["train_file"] = str(tmp_path / "missing.json")
    if args["init_checkpoint"] == ".":
        args["init_checkpoint"] = str(tmp_path)
    with pytest.raises(ValueError, match=message) as raised:
        run_squad(**args)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "run" / "eval_results.json").exists()


def test_docstring_examples():
    assert doctest.testmod(run_squad_module).failed == 0
