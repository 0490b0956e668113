import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from keras_electra.export import client, warmup
from tests.export.servables import LENGTHS, TEXTS, UPPERS, save_tiny_servable

INPUTS = [{"text": TEXTS}, {"text": ["x"]}]
PAIR_INPUTS = [{"a": np.int32([[1, 2, 3]]), "b": [0.5]}]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    # The warmup file lives inside the SavedModel version directory it warms up.
    return save_tiny_servable(tmp_path_factory.mktemp("servable") / "1")


@pytest.fixture(scope="module")
def loaded(export_dir):
    return tf.saved_model.load(export_dir)


def test_written_requests_replay_to_the_expected_outputs(export_dir, loaded):
    path = warmup.write_warmup_requests(export_dir, "electra", "", INPUTS)
    assert path == os.path.join(export_dir, "assets.extra", "tf_serving_warmup_requests")
    assert os.listdir(os.path.dirname(path)) == ["tf_serving_warmup_requests"]  # no temp file left

    requests = warmup.read_warmup_requests(export_dir)
    assert len(requests) == 2
    assert [r.model_spec.name for r in requests] == ["electra", "electra"]
    first, second = (client.predict_grpc(loaded, r) for r in requests)
    np.testing.assert_array_equal(tf.make_ndarray(first.outputs["length"]), LENGTHS)
    assert [s.decode("utf-8") for s in tf.make_ndarray(first.outputs["upper"])] == UPPERS
    assert tf.make_ndarray(second.outputs["upper"]).tolist() == [b"X"]


def test_file_is_what_tf_serving_reads(tmp_path, loaded):
    # TF Serving's saved_model_warmup reads the file as TFRecords of PredictionLog protos.
    path = warmup.write_warmup_requests(str(tmp_path), "electra", "pair", PAIR_INPUTS * 3)
    logs = [prediction_log_pb2.PredictionLog.FromString(record)
            for record in tf.data.TFRecordDataset(path).as_numpy_iterator()]
    assert len(logs) == 3
    assert {log.WhichOneof("log_type") for log in logs} == {"predict_log"}
    request = logs[0].predict_log.request
    assert (request.model_spec.name, request.model_spec.signature_name) == ("electra", "pair")
    response = client.predict_grpc(loaded, request)
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["score"]), np.float32([3.0]))


def test_rewriting_replaces_the_file(tmp_path):
    warmup.write_warmup_requests(str(tmp_path), "electra", "", INPUTS)
    warmup.write_warmup_requests(str(tmp_path), "electra", "", INPUTS[1:])
    requests = warmup.read_warmup_requests(str(tmp_path))
    assert [list(r.inputs["text"].string_val) for r in requests] == [[b"x"]]
    assert os.listdir(tmp_path / "assets.extra") == ["tf_serving_warmup_requests"]


def test_more_than_1000_requests_are_refused(tmp_path):
    with pytest.raises(ValueError, match="^1001 warmup requests given; TF Serving reads at most 1000$"):
        warmup.write_warmup_requests(str(tmp_path), "electra", "", [{"text": ["x"]}] * 1001)
    assert not (tmp_path / "assets.extra").exists()
    with pytest.raises(ValueError, match="^write_warmup_requests needs at least one request$"):
        warmup.write_warmup_requests(str(tmp_path), "electra", "", [])


def test_unreadable_files_are_named(tmp_path):
    path = warmup.warmup_path(str(tmp_path))
    with pytest.raises(ValueError, match=f"^{path}: no warmup file$"):
        warmup.read_warmup_requests(str(tmp_path))
    os.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(b"\xff\xff not a proto")
    with pytest.raises(ValueError, match=f"^{path}: record 0 is not a PredictionLog"):
        warmup.read_warmup_requests(str(tmp_path))
    with open(path, "wb") as f:
        f.write(b"plain text, no TFRecord framing")
    with pytest.raises(ValueError, match=f"^{path}: not a TFRecord file"):
        warmup.read_warmup_requests(str(tmp_path))
    log = prediction_log_pb2.PredictionLog()
    log.classify_log.request.model_spec.name = "electra"
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(log.SerializeToString())
    with pytest.raises(ValueError, match=f"^{path}: record 0 holds classify_log, not a predict_log$"):
        warmup.read_warmup_requests(str(tmp_path))
