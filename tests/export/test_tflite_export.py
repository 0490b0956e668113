"""`export_tflite` and `tflite_predict`: LiteRT outputs against the Keras models they came from."""

import os

import keras
import numpy as np
import pytest

from keras_electra.builders import build_pretrainer
from keras_electra.data.vocab import write_vocabulary
from keras_electra.export.tflite_export import export_tflite, tflite_predict
from keras_electra.models.task_builders import build_task_model, discriminator_from_pretrainer
from keras_electra.training.checkpoints import save_pretrainer
from keras_electra.training.run_finetuning import save_task_model
from tests.test_case import tiny_batch, tiny_config

VOCAB_SIZE = 500
TASK_SEQ_LENGTH = 16  # the classifier's task.json length; the detector uses the config's 32


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """A pre-training dir and a fine-tuned classifier dir, 64 wide: big enough that
    weights dominate the file, so int8 weights show in its size."""
    root = tmp_path_factory.mktemp("tflite")
    vocab = str(root / "vocab.txt")
    write_vocabulary(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                      *(f"w{i}" for i in range(VOCAB_SIZE - 5))], vocab)
    keras.utils.set_random_seed(0)
    config = tiny_config(vocab_size=VOCAB_SIZE, embedding_size=64, hidden_size=64,
                         intermediate_size=128, max_position_embeddings=32, max_seq_length=32,
                         vocab_file=vocab)
    pretrainer = build_pretrainer(config)
    save_pretrainer(pretrainer, config, str(root / "pretrained"))
    classifier = build_task_model("classification", discriminator_from_pretrainer(pretrainer),
                                  num_classes=2)
    task_dir = root / "sst2"
    task_dir.mkdir()
    save_task_model(classifier, str(task_dir), {
        "kind": "classification", "labels": ["0", "1"], "is_pair": False,
        "max_seq_length": TASK_SEQ_LENGTH, "do_lower_case": True, "vocab_file": vocab})
    return {"pretrained": root / "pretrained", "pretrainer": pretrainer,
            "classifier_dir": task_dir, "classifier": classifier, "out": root}


@pytest.fixture(scope="module")
def classifier_files(model_dirs):
    out = model_dirs["out"]
    return {quantize: export_tflite(str(model_dirs["classifier_dir"]),
                                    str(out / f"sst2_{quantize}.tflite"), quantize=quantize)
            for quantize in (None, "dynamic_int8")}


def test_float_classifier_matches_keras(model_dirs, classifier_files):
    exported = classifier_files[None]
    assert (exported["kind"], exported["signature"], exported["max_seq_length"]) == (
        "classification", "classify_ids", TASK_SEQ_LENGTH)
    features = tiny_batch(batch_size=5, seq_length=TASK_SEQ_LENGTH, vocab_size=VOCAB_SIZE)
    expected = keras.ops.softmax(model_dirs["classifier"](features)).numpy()
    outputs = tflite_predict(exported["output_path"], features)
    assert sorted(outputs) == ["label_id", "probabilities"]
    # Observed: 1.2e-7 (float32 rounding; TFLite fuses and reorders some ops).
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)
    np.testing.assert_array_equal(outputs["label_id"], expected.argmax(-1))


def test_float_detector_matches_keras(model_dirs, tmp_path):
    path = str(tmp_path / "detector.tflite")
    exported = export_tflite(str(model_dirs["pretrained"]), path)
    assert (exported["kind"], exported["signature"], exported["max_seq_length"]) == (
        "detector", "detect_ids", 32)
    assert os.listdir(tmp_path) == ["detector.tflite"]  # no temporary files left
    features = tiny_batch(batch_size=3, seq_length=32, vocab_size=VOCAB_SIZE)
    expected = model_dirs["pretrainer"](features).numpy()
    outputs = tflite_predict(path, features)
    assert list(outputs) == ["replaced_probability"]
    mask = features["input_mask"].astype(bool)
    assert not mask.all()  # padded positions exist and are left out of the comparison
    np.testing.assert_allclose(outputs["replaced_probability"][mask], expected[mask], atol=1e-6)


def test_dynamic_int8_is_smaller_and_close_to_float(classifier_files):
    float_file, int8_file = classifier_files[None], classifier_files["dynamic_int8"]
    assert os.path.getsize(int8_file["output_path"]) == int8_file["bytes"]
    # ~0.34 here: int8 weight matrices, float32 LayerNorms, biases and small tensors.
    assert int8_file["bytes"] / float_file["bytes"] < 0.5
    features = tiny_batch(batch_size=5, seq_length=TASK_SEQ_LENGTH, vocab_size=VOCAB_SIZE, seed=3)
    float_probs = tflite_predict(float_file["output_path"], features)["probabilities"]
    int8_probs = tflite_predict(int8_file["output_path"], features)["probabilities"]
    np.testing.assert_allclose(int8_probs, float_probs, atol=0.01)  # observed: 6.5e-4
    assert not np.array_equal(int8_probs, float_probs)  # it really is another model


def test_bad_inputs_are_one_line_errors(model_dirs, classifier_files, tmp_path):
    task_dir, out = str(model_dirs["classifier_dir"]), str(tmp_path / "x.tflite")
    cases = [
        (dict(model_dir=task_dir, quantize="int4"), r"quantize='int4': expected one of"),
        (dict(model_dir=task_dir, max_seq_length=64), r"max_seq_length=64 exceeds .* \(32\)"),
        (dict(model_dir=str(tmp_path)), r"neither a fine-tuned model"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message) as raised:
            export_tflite(output_path=out, **kwargs)
        assert "\n" not in str(raised.value)
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match=r"exactly 16 token ids, got .* \(2, 32\)"):
        tflite_predict(classifier_files[None]["output_path"],
                       tiny_batch(batch_size=2, seq_length=32, vocab_size=VOCAB_SIZE))
