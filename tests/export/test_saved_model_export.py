"""`export_saved_model` and the `export` CLI: raw-text SavedModels checked as TF Serving uses them."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_electra.builders import build_pretrainer
from keras_electra.data.text_pair_encoder import TextPairEncoder
from keras_electra.data.vocab import write_vocabulary
from keras_electra.export.client import make_predict_request, predict_grpc, predict_rest
from keras_electra.export.saved_model_export import export_saved_model
from keras_electra.export.warmup import read_warmup_requests
from keras_electra.models.task_builders import discriminator_from_pretrainer
from keras_electra.training.checkpoints import save_pretrainer
from tests.export.servables import SAVED_MODEL_CLI
from tests.test_case import REPO_ROOT, tiny_config

WORDS = ["the", "a", "good", "film", "cat", "sat", "on", "mat", "!", "日", "本", "cafe", "##s"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
MAX_SEQ_LENGTH = 12
TEXTS = ["The cat sat on the mat!", "a good film", "", "   ", "Café 日本 😀 films",
         "good " * 20000]  # the last: 100,000 characters, truncated


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrained")
    write_vocabulary(VOCAB, str(root / "vocab_source.txt"))
    keras.utils.set_random_seed(0)
    config = tiny_config(vocab_size=len(VOCAB), vocab_file=str(root / "vocab_source.txt"),
                         max_seq_length=MAX_SEQ_LENGTH)
    pretrainer = build_pretrainer(config)
    save_pretrainer(pretrainer, config, str(root / "model"))
    return root / "model", pretrainer


@pytest.fixture(scope="module")
def detector_export(pretrained, tmp_path_factory):
    model_dir, _ = pretrained
    export_dir = tmp_path_factory.mktemp("serving") / "electra" / "1"
    result = export_saved_model(str(model_dir), str(export_dir))
    assert result["kind"] == "detector"
    return export_dir


def _fresh_process(export_dir, signature, inputs, tmp_path):
    """Runs a signature in a new Python process that imports only TF and TF Text."""
    inputs_path, out_path = tmp_path / "inputs.json", tmp_path / "outputs.npz"
    inputs_path.write_text(json.dumps(inputs))
    subprocess.run([sys.executable, str(REPO_ROOT / "tests/export/fresh_process_main.py"),
                    str(export_dir), signature, str(inputs_path), str(out_path)],
                   check=True, capture_output=True)
    return dict(np.load(out_path, allow_pickle=True))  # tokens: an object array of bytes


def _keras_features(model_dir, texts):
    """What fine-tuning would feed the model, cut to the batch's longest row."""
    features = TextPairEncoder(str(model_dir / "vocab.txt"), MAX_SEQ_LENGTH)(tf.constant(texts))
    width = int(tf.reduce_max(tf.reduce_sum(features["input_mask"], axis=1)))
    return {name: value[:, :width].numpy() for name, value in features.items()}


def test_text_signatures_match_the_keras_model_in_a_fresh_process(pretrained, detector_export,
                                                                  tmp_path):
    model_dir, pretrainer = pretrained
    features = _keras_features(model_dir, TEXTS)
    assert features["input_mask"][-1].sum() == MAX_SEQ_LENGTH  # the long text was truncated
    expected_probability = pretrainer(features).numpy()
    expected_sequence = discriminator_from_pretrainer(pretrainer)(features)["sequence_output"]

    detected = _fresh_process(detector_export, "serving_default", {"text": TEXTS}, tmp_path)
    np.testing.assert_array_equal(detected["input_mask"], features["input_mask"])
    mask = features["input_mask"].astype(bool)
    np.testing.assert_allclose(detected["replaced_probability"][mask],
                               expected_probability[mask], atol=1e-5)
    # Word pieces and the characters they came from: a client can highlight them.
    tokens = [t.decode() for t in detected["tokens"][4]]
    spans = [TEXTS[4][s:e] for s, e in zip(detected["start_offsets"][4],
                                            detected["end_offsets"][4]) if s >= 0]
    assert tokens[:7] == ["[CLS]", "cafe", "日", "本", "[UNK]", "film", "##s"]
    assert spans == ["Café", "日", "本", "😀", "film", "s"]
    assert detected["start_offsets"][2].tolist() == [-1] * features["input_ids"].shape[1]

    embedded = _fresh_process(detector_export, "embed_text", {"text": TEXTS}, tmp_path)
    np.testing.assert_allclose(embedded["sequence_output"][mask],
                               np.asarray(expected_sequence)[mask], atol=1e-5)
    np.testing.assert_allclose(embedded["pooled_output"], np.asarray(expected_sequence)[:, 0],
                               atol=1e-5)

    by_ids = _fresh_process(detector_export, "detect_ids",
                            {name: value.tolist() for name, value in features.items()}, tmp_path)
    np.testing.assert_allclose(by_ids["replaced_probability"][mask], expected_probability[mask],
                               atol=1e-5)


def test_saved_model_cli_lists_and_runs_the_signatures(detector_export):
    cli = SAVED_MODEL_CLI
    shown = subprocess.run([*cli, "show", "--all", "--dir", str(detector_export)],
                           check=True, capture_output=True, text=True).stdout
    for name in ("serving_default", "detect_text", "embed_text", "detect_ids", "embed_ids"):
        assert f"signature_def['{name}']" in shown, name
    ran = subprocess.run(
        [*cli, "run", "--dir", str(detector_export), "--tag_set", "serve",
         "--signature_def", "serving_default", "--input_exprs", "text=['a good film']"],
        check=True, capture_output=True, text=True).stdout
    assert "replaced_probability" in ran and "b'film'" in ran


def test_every_op_is_core_tensorflow_or_tf_text(detector_export):
    # A fresh process: which ops core TensorFlow registers, then which ones
    # importing tensorflow_text adds (what TF Serving's binary links in).
    script = ("import json, sys; from tensorflow.python.framework import op_def_registry as r; "
              "ops = json.loads(sys.argv[1]); core = [o for o in ops if r.get(o)]; "
              "import tensorflow_text; text = [o for o in ops if o not in core and r.get(o)]; "
              "print(json.dumps({'core': core, 'text': text}))")
    graph_ops = _graph_ops(detector_export)
    found = json.loads(subprocess.run([sys.executable, "-c", script, json.dumps(sorted(graph_ops))],
                                      check=True, capture_output=True, text=True).stdout)
    assert set(found["text"]) == {"FastBertNormalize", "FastWordpieceTokenizeWithOffsets"}
    assert graph_ops - set(found["core"]) - set(found["text"]) == set()


def _graph_ops(export_dir):
    from tensorflow.core.protobuf import saved_model_pb2
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((export_dir / "saved_model.pb").read_bytes())
    ops = set()
    for meta_graph in proto.meta_graphs:
        ops |= {node.op for node in meta_graph.graph_def.node}
        for function in meta_graph.graph_def.library.function:
            ops |= {node.op for node in function.node_def}
    return ops


def test_warmup_requests_parse_and_replay(detector_export):
    requests = read_warmup_requests(str(detector_export))
    assert len(requests) >= 1
    assert requests[0].model_spec.name == "electra"
    loaded = tf.saved_model.load(str(detector_export))
    response = predict_grpc(loaded, requests[0])
    probability = tf.make_ndarray(response.outputs["replaced_probability"])
    assert probability.shape[0] == len(tf.make_ndarray(requests[0].inputs["text"]))
    assert np.all((probability >= 0) & (probability <= 1))


def test_bad_requests_are_clear_errors_and_odd_text_is_served(detector_export):
    loaded = tf.saved_model.load(str(detector_export))
    # Mixed lengths, emoji, non-Latin scripts, empty and whitespace-only text.
    body = {"instances": ["", "   ", "😀😀", "日本", "the cat sat on the mat " * 3]}
    predictions = predict_rest(loaded, body)["predictions"]
    assert [p["tokens"][:2] for p in predictions[:2]] == [["[CLS]", "[SEP]"]] * 2
    assert predictions[2]["tokens"][1:3] == ["[UNK]", "[SEP]"]  # one word, unknown
    assert sum(predictions[4]["input_mask"]) == MAX_SEQ_LENGTH
    with pytest.raises(ValueError, match="text") as raised:
        predict_rest(loaded, {"instances": [1, 2]})
    assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match="text"):
        predict_rest(loaded, {"inputs": {"txt": ["a"]}})
    with pytest.raises(ValueError, match="input_ids"):
        predict_grpc(loaded, make_predict_request("electra", "detect_ids",
                                                  {"input_ids": [[2, 3]], "input_mask": [[1, 1]]}))


def test_export_dir_must_be_a_new_integer_version(pretrained, detector_export, tmp_path):
    model_dir, _ = pretrained
    with pytest.raises(ValueError, match=r"already exists"):
        export_saved_model(str(model_dir), str(detector_export))
    with pytest.raises(ValueError, match=r"must be an integer version"):
        export_saved_model(str(model_dir), str(tmp_path / "electra" / "latest"))
    with pytest.raises(ValueError, match=r"max_seq_length=64 exceeds"):
        export_saved_model(str(model_dir), str(tmp_path / "electra" / "2"), max_seq_length=64)
    assert not (tmp_path / "electra" / "2").exists()
    assert [p.name for p in (tmp_path / "electra").iterdir()] == [] if (
        tmp_path / "electra").exists() else True


def _write_glue(directory, header, rows):
    directory.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev"):
        (directory / f"{split}.tsv").write_text(header + "".join(rows))
    return directory


@pytest.mark.parametrize("task, header, rows, inputs", [
    ("sst2", "sentence\tlabel\n", ["a good film\t1\n", "the cat sat\t0\n"] * 8,
     {"text": ["a good film", "the mat", "", "good " * 100]}),
    ("mrpc", "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n",
     [f"{i % 2}\t{i}\t{i}\tthe cat sat on the mat\ta cat sat\n" for i in range(16)],
     {"text_a": ["the cat sat", "a good film"], "text_b": ["on the mat", ""]}),
    ("stsb", "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\t"
             "sentence2\tscore\n",
     [f"{i}\tg\tf\ty\t{i}\ts\ts\tthe cat\ta cat sat\t{i % 5}.0\n" for i in range(16)],
     {"text_a": ["the cat"], "text_b": ["a good film"]}),
])
def test_fine_tuned_classifier_serves_its_labels(pretrained, tmp_path, task, header, rows, inputs):
    from keras_electra.training.run_finetuning import run_finetuning
    model_dir, _ = pretrained
    data = _write_glue(tmp_path / "data", header, rows)
    run_dir = tmp_path / "run"
    run_finetuning(task, str(data), str(model_dir), str(run_dir), num_train_epochs=1,
                   train_batch_size=8, max_seq_length=MAX_SEQ_LENGTH, verbose=0)
    export_dir = tmp_path / "serving" / task / "3"
    result = export_saved_model(str(run_dir), str(export_dir))
    assert result["kind"] == ("regression" if task == "stsb" else "classification")

    served = _fresh_process(export_dir, "serving_default", inputs, tmp_path)
    model = keras.saving.load_model(str(run_dir / "model.keras"))
    pair = "text_a" in inputs
    features = TextPairEncoder(str(run_dir / "vocab.txt"), MAX_SEQ_LENGTH)(
        tf.constant(inputs["text_a" if pair else "text"]),
        tf.constant(inputs["text_b"]) if pair else None)
    logits = np.asarray(model(features))
    if task == "stsb":
        np.testing.assert_allclose(served["score"], logits, atol=1e-5)
        return
    probabilities = tf.nn.softmax(logits).numpy()
    np.testing.assert_allclose(served["probabilities"], probabilities, atol=1e-5)
    labels = ["0", "1"]
    assert [x.decode() for x in served["label"]] == [labels[i] for i in probabilities.argmax(1)]
    assert served["label_names"].tolist() == [[b"0", b"1"]] * len(probabilities)


def test_cli_writes_saved_model_and_tflite(pretrained, tmp_path):
    model_dir, _ = pretrained
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "keras_electra.export",
                               f"--model_dir={model_dir}", *args], env=env, cwd=str(tmp_path),
                              capture_output=True, text=True)

    done = cli("--export_dir=serving/electra/7")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["signatures"] == [
        "detect_ids", "detect_text", "embed_ids", "embed_text", "serving_default"]
    assert (tmp_path / "serving/electra/7/saved_model.pb").is_file()
    assert (tmp_path / "serving/electra/7/assets.extra/tf_serving_warmup_requests").is_file()

    done = cli("--format=tflite", "--quantize=dynamic_int8", "--export_dir=detector.tflite")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["quantize"] == "dynamic_int8"
    assert (tmp_path / "detector.tflite").stat().st_size > 0

    refused = cli("--quantize=dynamic_int8", "--export_dir=serving/electra/8")
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines()[-1] == \
        "error: --quantize applies to --format=tflite only."


@pytest.mark.parametrize("objective", ["mlm", "all_tokens_mlm"])
def test_detector_export_refuses_a_run_without_a_trained_detector(objective, tmp_path):
    write_vocabulary(VOCAB, str(tmp_path / "vocab_source.txt"))
    config = tiny_config(vocab_size=len(VOCAB), vocab_file=str(tmp_path / "vocab_source.txt"),
                         max_seq_length=MAX_SEQ_LENGTH, objective=objective)
    save_pretrainer(build_pretrainer(config), config, str(tmp_path / "model"))
    export_dir = tmp_path / "serving" / "electra" / "1"
    with pytest.raises(ValueError, match=f"objective='{objective}'.*fine-tune") as raised:
        export_saved_model(str(tmp_path / "model"), str(export_dir))
    assert str(tmp_path / "model") in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "serving").exists()  # nothing half-written
