"""TF Serving warmup requests: `assets.extra/tf_serving_warmup_requests` of a SavedModel.

TF Serving replays these requests when it loads a model version, before the version
takes traffic, so the first user request does not pay for graph setup (and for any
lazily built kernels). The file is a TFRecord of `PredictionLog` protos; the server
reads at most 1000 of them.

Example:

```python
from keras_electra.export import warmup
warmup.write_warmup_requests("/tmp/upper/1", "upper", "serving_default",
                             [{"text": ["a short sentence"]}, {"text": ["two", "rows"]}])
[r.inputs["text"].string_val for r in warmup.read_warmup_requests("/tmp/upper/1")]
# -> [[b'a short sentence'], [b'two', b'rows']]
```
"""

import os

import tensorflow as tf
from google.protobuf import message
from tensorflow_serving.apis import prediction_log_pb2

from keras_electra.export.client import make_predict_request

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_WARMUP_REQUESTS = 1000  # TF Serving's kMaxNumRecordsToRead


def warmup_path(export_dir):
    """`export_dir/assets.extra/tf_serving_warmup_requests`."""
    return os.path.join(export_dir, WARMUP_FILE)


def write_warmup_requests(export_dir, model_name, signature_name, inputs_list):
    """Writes one Predict warmup request per entry of `inputs_list`; returns the file's path.

    Args:
        export_dir: the SavedModel version directory (the one holding `saved_model.pb`).
        model_name: `model_spec.name` of each request (TF Serving's `MODEL_NAME`).
        signature_name: the signature each request calls ("" or None: `serving_default`).
        inputs_list: dicts `input name -> numpy array or nested Python values`, as for
            `client.make_predict_request`. Between 1 and 1000 of them.

    The file is written under a temporary name and renamed, so TF Serving never loads a
    half-written one (works on `gs://` too, through `tf.io.gfile`).

    Example:
    >>> write_warmup_requests("/tmp/upper/1", "upper", "", [{"text": ["hello"]}])
    '/tmp/upper/1/assets.extra/tf_serving_warmup_requests'
    """
    inputs_list = list(inputs_list)
    if not inputs_list:
        raise ValueError("write_warmup_requests needs at least one request")
    if len(inputs_list) > MAX_WARMUP_REQUESTS:
        raise ValueError(f"{len(inputs_list)} warmup requests given; TF Serving reads at most "
                         f"{MAX_WARMUP_REQUESTS}")
    # Build every record first: a bad input must fail before anything touches the disk.
    records = []
    for inputs in inputs_list:
        log = prediction_log_pb2.PredictionLog()
        log.predict_log.request.CopyFrom(make_predict_request(model_name, signature_name, inputs))
        records.append(log.SerializeToString())

    path = warmup_path(export_dir)
    tf.io.gfile.makedirs(os.path.dirname(path))
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with tf.io.TFRecordWriter(tmp) as writer:
            for record in records:
                writer.write(record)
        tf.io.gfile.rename(tmp, path, overwrite=True)
    finally:
        if tf.io.gfile.exists(tmp):
            tf.io.gfile.remove(tmp)
    return path


def read_warmup_requests(export_dir):
    """The `PredictRequest`s of `export_dir`'s warmup file, in order.

    Example:
    >>> [r.model_spec.name for r in read_warmup_requests("/tmp/upper/1")]
    ['upper']
    """
    path = warmup_path(export_dir)
    if not tf.io.gfile.exists(path):
        raise ValueError(f"{path}: no warmup file")
    requests = []
    try:
        for i, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
            try:
                log = prediction_log_pb2.PredictionLog.FromString(record)
            except message.DecodeError as e:
                raise ValueError(f"{path}: record {i} is not a PredictionLog ({e})") from None
            kind = log.WhichOneof("log_type")
            if kind != "predict_log":
                raise ValueError(f"{path}: record {i} holds {kind or 'no log'}, not a predict_log")
            requests.append(log.predict_log.request)
    except tf.errors.DataLossError as e:
        raise ValueError(f"{path}: not a TFRecord file ({e.message.splitlines()[0]})") from None
    return requests
