"""`export_hub`: TF Hub preprocessor + reusable encoder, read back three ways.

`tf.saved_model.load` (values against `TextPairEncoder` and the Keras
discriminator), Keras 3 `TFSMLayer` (inference), and `tensorflow_hub.KerasLayer`
fine-tuning in a `tf_keras` model, in a fresh process so tf_keras and Keras 3
never share one.
"""

import doctest
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the preprocessor uses)

import keras_electra
from keras_electra.data.text_pair_encoder import TextPairEncoder
from keras_electra.data.vocab import write_vocabulary
from keras_electra.export import hub_export
from keras_electra.export.hub_export import export_hub
from keras_electra.models.task_builders import discriminator_from_pretrainer
from tests.export.servables import SAVED_MODEL_CLI
from tests.test_case import tiny_config

WORDS = ["the", "a", "film", "plot", "actor", "story", "is", "was", "very", "dull", "new"]
# "##s" and "##ing" make multi-piece words; "café" is stripped of its accent.
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "cafe", "##s", "##ing", ".",
         *WORDS]
SEQ = 12  # below config.max_seq_length (16), to check it is honoured

SINGLES = ["The good film.", "", "plots Acting café", "xyz unknown", "A very very dull "
           "story was the plot of the new film and the actor was dull"]  # the last is cut
PAIRS = [("the film", "was good"), ("a plot", ""),  # empty b packs as one sentence
         ("the very dull story of a film", "the new actor is very good and very new")]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`(hub_dir, pretrainer, config)` for a tiny untrained model with dropout."""
    root = tmp_path_factory.mktemp("hub")
    keras.utils.set_random_seed(0)
    vocab = root / "source_vocab.txt"  # not named vocab.txt: the export must rename it
    write_vocabulary(VOCAB, str(vocab))
    config = tiny_config(vocab_size=len(VOCAB), vocab_file=str(vocab), dropout=0.1)
    pretrainer = keras_electra.build_pretrainer(config)
    (root / "export").mkdir()  # an existing empty directory is fine
    export_hub(pretrainer, config, str(root / "export"), max_seq_length=SEQ)
    return root / "export", pretrainer, config


def _text_pair_encoder(config):
    return TextPairEncoder(config.vocab_file, SEQ, config.do_lower_case)


def _assert_features_equal(hub_features, ours):
    assert sorted(hub_features) == ["input_mask", "input_type_ids", "input_word_ids"]
    for hub_name, name in (("input_word_ids", "input_ids"), ("input_mask", "input_mask"),
                           ("input_type_ids", "segment_ids")):
        assert hub_features[hub_name].dtype == tf.int32
        np.testing.assert_array_equal(hub_features[hub_name], ours[name], err_msg=hub_name)


def test_preprocessor_packs_like_text_pair_encoder(exported):
    hub_dir, _, config = exported
    preprocessor = tf.saved_model.load(str(hub_dir / "preprocessor"))
    encoder = _text_pair_encoder(config)

    singles = tf.constant(SINGLES)
    features = preprocessor(singles)
    _assert_features_equal(features, encoder(singles))
    assert features["input_word_ids"].shape == (len(SINGLES), SEQ)
    assert features["input_word_ids"][0].numpy().tolist() == \
        [2, VOCAB.index("the"), 5, VOCAB.index("film"), 9, 3] + [0] * 6
    assert features["input_mask"][-1].numpy().tolist() == [1] * SEQ  # truncated, not dropped

    tokens = preprocessor.tokenize(singles)
    assert isinstance(tokens, tf.RaggedTensor) and tokens.dtype == tf.int32
    assert tokens.to_list() == encoder.tokenizer.tokenize(singles).to_list()
    assert tokens.to_list()[2] == [VOCAB.index("plot"), 7, 1, 6]  # plot ##s [UNK] cafe

    text_a, text_b = (tf.constant(column) for column in zip(*PAIRS))
    tokens_a, tokens_b = preprocessor.tokenize(text_a), preprocessor.tokenize(text_b)
    pairs = preprocessor.bert_pack_inputs([tokens_a, tokens_b])
    _assert_features_equal(pairs, encoder(text_a, text_b))
    assert pairs["input_type_ids"][0].numpy().tolist() == [0] * 4 + [1] * 3 + [0] * 5
    assert pairs["input_mask"][2].numpy().tolist() == [1] * SEQ  # the long pair is truncated
    # TF Hub's own tokenizers give (batch, words, pieces): the same packing.
    by_word = [tf.RaggedTensor.from_nested_row_splits(
        t.values, [t.row_splits, tf.range(tf.size(t.values, tf.int64) + 1)])
        for t in (tokens_a, tokens_b)]
    _assert_features_equal(preprocessor.bert_pack_inputs(by_word), encoder(text_a, text_b))
    _assert_features_equal(preprocessor.bert_pack_inputs([tokens_a], seq_length=SEQ),
                           encoder(text_a))

    special = {k: int(v) for k, v in preprocessor.get_special_tokens_dict().items()}
    assert special == {"vocab_size": len(VOCAB), "start_of_sequence_id": 2,
                       "end_of_segment_id": 3, "padding_id": 0, "mask_id": 4}
    vocab_asset = preprocessor.vocab_file.asset_path.numpy().decode()
    assert vocab_asset == str(hub_dir / "preprocessor" / "assets" / "vocab.txt")
    with open(vocab_asset, encoding="utf-8") as f:
        assert f.read().splitlines() == VOCAB


def test_keras3_tfsm_layers_match_the_discriminator(exported):
    hub_dir, pretrainer, _ = exported
    preprocessor = keras.layers.TFSMLayer(str(hub_dir / "preprocessor"),
                                          call_endpoint="serving_default")
    encoder = keras.layers.TFSMLayer(str(hub_dir / "encoder"), call_endpoint="serving_default")
    inputs = preprocessor(tf.constant(SINGLES))
    outputs = encoder(inputs)

    batch = {"input_ids": inputs["input_word_ids"], "input_mask": inputs["input_mask"],
             "segment_ids": inputs["input_type_ids"]}
    expected = discriminator_from_pretrainer(pretrainer)(batch)["sequence_output"].numpy()
    np.testing.assert_allclose(outputs["sequence_output"], expected, atol=1e-5)
    np.testing.assert_allclose(outputs["pooled_output"], expected[:, 0], atol=1e-5)
    np.testing.assert_array_equal(outputs["default"], outputs["pooled_output"])
    np.testing.assert_array_equal(outputs["encoder_outputs_1"], outputs["sequence_output"])
    assert "encoder_outputs_2" not in outputs  # one per layer (num_layers=2)

    # The reusable SavedModel's own __call__: a list of layers, dropout only in training.
    reusable = tf.saved_model.load(str(hub_dir / "encoder"))
    inference = reusable(inputs, training=False)
    assert len(inference["encoder_outputs"]) == 2
    np.testing.assert_allclose(inference["sequence_output"], expected, atol=1e-5)
    np.testing.assert_array_equal(inference["encoder_outputs"][-1],
                                  inference["sequence_output"])
    assert not np.allclose(inference["encoder_outputs"][0], inference["sequence_output"])
    np.testing.assert_array_equal(reusable(inputs)["sequence_output"],
                                  inference["sequence_output"])  # training defaults to False
    assert not np.allclose(reusable(inputs, training=True)["sequence_output"], expected,
                           atol=1e-3)
    assert len(reusable.trainable_variables) == len(pretrainer.discriminator.trainable_weights)
    assert list(reusable.regularization_losses) == []


# Runs in a fresh interpreter: tf_keras (TF_USE_LEGACY_KERAS=1) must not meet Keras 3.
FINE_TUNE = """
import json, sys
import numpy as np, tensorflow as tf, tensorflow_text, tensorflow_hub as hub, tf_keras

hub_dir = sys.argv[1]
tf_keras.utils.set_random_seed(0)
words = ["the", "a", "film", "plot", "is", "dull"]
rng = np.random.default_rng(0)
texts, labels = [], []
for i in range(64):
    sentence = list(rng.choice(words, 4))
    if i % 2:
        sentence.insert(int(rng.integers(0, 5)), "good")
    texts.append(" ".join(sentence))
    labels.append(i % 2)
text = tf_keras.Input(shape=(), dtype=tf.string)
encoder = hub.KerasLayer(hub_dir + "/encoder", trainable=True)
outputs = encoder(hub.KerasLayer(hub_dir + "/preprocessor")(text))
model = tf_keras.Model(text, tf_keras.layers.Dense(2)(outputs["pooled_output"]))
model.compile(tf_keras.optimizers.Adam(1e-2),
              tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
before = [v.numpy() for v in encoder.trainable_weights]
history = model.fit(tf.constant(texts), np.array(labels), batch_size=16, epochs=4, verbose=0)
print(json.dumps({
    "loss": history.history["loss"],
    "trainable": len(before),
    "changed": sum(not np.allclose(b, v.numpy())
                   for b, v in zip(before, encoder.trainable_weights)),
}))
"""


def test_tf_keras_fine_tunes_through_hub_keras_layer(exported):
    hub_dir, pretrainer, _ = exported
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run([sys.executable, "-c", FINE_TUNE, str(hub_dir)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loss"][-1] < report["loss"][0], report
    assert report["trainable"] == len(pretrainer.discriminator.trainable_weights)
    assert report["changed"] == report["trainable"], report  # every encoder weight trained


def test_rejects_too_long_max_seq_length(tmp_path, exported):
    _, pretrainer, config = exported
    with pytest.raises(ValueError, match="max_seq_length") as error:
        export_hub(pretrainer, config, str(tmp_path / "out"), max_seq_length=17)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_refuses_a_non_empty_export_dir(tmp_path, exported):
    _, pretrainer, config = exported
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty") as error:
        export_hub(pretrainer, config, str(tmp_path / "out"))
    assert "\n" not in str(error.value)
    assert os.listdir(tmp_path / "out") == ["keep.txt"]
    assert os.listdir(tmp_path) == ["out"]  # no temporary directory left behind


def test_a_failed_export_leaves_nothing(tmp_path, monkeypatch, exported):
    _, pretrainer, config = exported

    def fail(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(hub_export, "_save_encoder", fail)  # after the preprocessor is written
    with pytest.raises(RuntimeError, match="disk full"):
        export_hub(pretrainer, config, str(tmp_path / "out"))
    assert os.listdir(tmp_path) == []


def test_docstring_examples():
    assert doctest.testmod(hub_export, raise_on_error=False).failed == 0


def test_encoder_serves_through_the_tf1_session_loader(exported):
    # saved_model_cli run loads like TF Serving's C++ loader (a TF1 session).
    hub_dir, pretrainer, _ = exported
    ids = [[2, VOCAB.index("the"), 5, 3]]
    ran = subprocess.run(
        [*SAVED_MODEL_CLI, "run", "--dir", str(hub_dir / "encoder"), "--tag_set", "serve",
         "--signature_def", "serving_default", "--input_exprs",
         f"input_word_ids={ids};input_mask=[[1,1,1,1]];input_type_ids=[[0,0,0,0]]"],
        check=True, capture_output=True, text=True).stdout
    assert "pooled_output" in ran and "encoder_outputs_1" in ran
