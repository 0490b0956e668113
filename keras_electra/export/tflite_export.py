"""`export_tflite`: a model directory -> a `.tflite` flatbuffer for on-device inference.

    export_tflite("runs/sst2", "sst2.tflite", quantize="dynamic_int8")
    tflite_predict("sst2.tflite", features)["probabilities"]

Only the token-id signature is converted (`classify_ids` for a fine-tuned
classifier, `detect_ids` for a pre-training directory), with fixed
`[1, max_seq_length]` int32 inputs. Fixed, because TFLite plans its tensors
once for static shapes (a dynamic dimension means resizing and re-planning,
and some delegates refuse it), and batch 1 is the on-device case. Token ids,
because the tokenizer is tensorflow-text ops, which are not TFLite builtins
(they would need the Flex delegate, megabytes of TF runtime): the client
tokenizes (`keras_electra.data.text_pair_encoder.TextPairEncoder`, or any
WordPiece implementation with the same `vocab.txt`) and pads to
`max_seq_length`. The flatbuffer holds TFLite builtin ops only.

Outputs keep the serving names, numeric ones only (TFLite string tensors
are awkward on device; the class names are in the model's `task.json`):
`probabilities` `(1, classes)` and `label_id` `(1,)` for classification,
`score` `(1, 1)` for regression, `replaced_probability` `(1, max_seq_length)`
for the detector.

`quantize="dynamic_int8"` is dynamic-range quantization: weight matrices
stored as int8 (tensors of at least 1024 elements; smaller ones stay
float32), activations float32, no representative dataset needed.
"""

import os
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_electra.export.packed_encoder import unpacked
from keras_electra.export.saved_model_export import serving_module
from keras_electra.training.checkpoints import CONFIG_NAME
from keras_electra.training.run_finetuning import TASK_INFO_NAME

QUANTIZE_MODES = (None, "dynamic_int8")
_ID_NAMES = ("input_ids", "input_mask", "segment_ids")
# kind -> (signature name, module method that maps features to outputs, outputs kept)
_SIGNATURES = {
    "classification": ("classify_ids", "_classify", ("probabilities", "label_id")),
    "regression": ("classify_ids", "_classify", ("score",)),
    "detector": ("detect_ids", "_detect", ("replaced_probability",)),
}


def export_tflite(model_dir, output_path, max_seq_length=None, quantize=None):
    """Converts the token-id signature of the model in `model_dir` to a `.tflite` file.

    Args:
        model_dir: a fine-tuned classifier or regressor (`model.keras`,
            `task.json`, `vocab.txt`) or a pre-training model directory
            (ours, or a Hugging Face ELECTRA one).
        output_path: the `.tflite` file; written under a temporary name, then
            renamed (an existing file is replaced).
        max_seq_length: the fixed row length (default: the fine-tuning
            length, or the pre-training config's `max_seq_length`).
        quantize: None (float32) or `"dynamic_int8"`.

    Returns:
        `{"output_path", "kind", "signature", "max_seq_length", "quantize", "bytes"}`.

    Example:

    >>> export_tflite("runs/sst2", "sst2_int8.tflite", quantize="dynamic_int8")  # doctest: +SKIP
    {'output_path': 'sst2_int8.tflite', 'kind': 'classification', 'signature': 'classify_ids', ...}
    """
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"quantize={quantize!r}: expected one of {list(QUANTIZE_MODES)}.")
    if not any(os.path.isfile(os.path.join(model_dir, name))
               for name in (TASK_INFO_NAME, CONFIG_NAME)):
        raise ValueError(f"{model_dir}: neither a fine-tuned model ({TASK_INFO_NAME}) nor a "
                         f"pre-training model directory ({CONFIG_NAME}).")
    module, kind, _ = serving_module(model_dir, max_seq_length)
    length = module.text.max_seq_length
    if kind not in _SIGNATURES:
        raise ValueError(f"{model_dir}: --format=tflite exports classifiers, regressors and the "
                         f"pre-trained detector; a {kind!r} model exports as a SavedModel only.")
    name, method, kept = _SIGNATURES[kind]
    outputs_of = getattr(module, method)
    specs = [tf.TensorSpec([1, length], tf.int32, name=n) for n in _ID_NAMES]

    @tf.function(input_signature=specs)
    def fixed(input_ids, input_mask, segment_ids):
        outputs = outputs_of({"input_ids": input_ids, "input_mask": input_mask,
                              "segment_ids": segment_ids})
        return {key: outputs[key] for key in kept}

    tmp_dir = tempfile.mkdtemp(prefix="tflite_export_")
    tmp_path = f"{output_path}.tmp{os.getpid()}"
    try:
        # Through a SavedModel written by Keras' ExportArchive, which tracks the
        # variables the function captures (as `export_saved_model` does). The
        # converter's `from_concrete_functions` needs a tf.Module-like
        # `trackable_obj` to save, and a tf.Module holding a Keras 3 model
        # misses variables (keras-team/keras#20095); the converter swallows
        # that and silently falls back to another path.
        archive = keras.export.ExportArchive()
        with unpacked():  # static shapes suit TFLite better than skipping padding
            archive.add_endpoint(name, fixed)
            archive.write_out(tmp_dir, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp_dir, signature_keys=[name])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize == "dynamic_int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        flatbuffer = converter.convert()
        with open(tmp_path, "wb") as f:
            f.write(flatbuffer)
        os.replace(tmp_path, output_path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
    return {"output_path": output_path, "kind": kind, "signature": name,
            "max_seq_length": length, "quantize": quantize, "bytes": len(flatbuffer)}


def load_signature_runner(path, num_threads=None):
    """`(runner, signature name, max_seq_length)` for a file from `export_tflite`.

    Uses the LiteRT interpreter (`ai_edge_litert`), which replaces
    `tf.lite.Interpreter` (that one warns it is scheduled for deletion), and
    falls back to the latter where LiteRT is not installed. `num_threads`
    None means 1 (LiteRT's default).

    Example:

    >>> runner, name, length = load_signature_runner("sst2.tflite")  # doctest: +SKIP
    >>> runner(input_ids=ids, input_mask=mask,  # doctest: +SKIP
    ...        segment_ids=segments)["probabilities"]
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
    (name,) = interpreter.get_signature_list()  # export_tflite writes exactly one
    runner = interpreter.get_signature_runner(name)
    length = int(runner.get_input_details()["input_ids"]["shape"][1])
    return runner, name, length


def tflite_predict(path, features, num_threads=None):
    """Runs `features` through the `.tflite` file one row at a time; outputs stacked.

    Args:
        path: a file from `export_tflite`.
        features: `input_ids`, `input_mask`, `segment_ids`, `(batch,
            max_seq_length)` integer arrays (e.g. from `TextPairEncoder` with
            the file's `max_seq_length`).
        num_threads: interpreter threads (None: 1).

    Returns:
        `{output name: (batch, ...) array}`.

    Example:

    >>> features = TextPairEncoder("runs/sst2/vocab.txt", 128)(["a good film"])  # doctest: +SKIP
    >>> tflite_predict("sst2.tflite", features)["probabilities"]  # doctest: +SKIP
    array([[0.03, 0.97]], dtype=float32)
    """
    runner, _, length = load_signature_runner(path, num_threads)
    rows = {name: np.asarray(features[name], np.int32) for name in _ID_NAMES}
    shape = rows["input_ids"].shape
    if len(shape) != 2 or shape[0] == 0 or shape[1] != length:
        raise ValueError(f"{path}: takes rows of exactly {length} token ids, got features of "
                         f"shape {shape}.")
    outputs = [runner(**{name: value[i:i + 1] for name, value in rows.items()})
               for i in range(len(rows["input_ids"]))]
    return {key: np.concatenate([row[key] for row in outputs]) for key in outputs[0]}
