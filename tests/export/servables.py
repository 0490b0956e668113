"""Shared by the export tests (a plain module, so every test target can depend on it)."""

import sys

import tensorflow as tf

# `saved_model_cli` itself, in a process that has registered the TF Text ops
# first (as TF Serving's binary has them linked in). `run` loads through the
# TF1 session loader, the same path as TF Serving's C++ loader.
SAVED_MODEL_CLI = [sys.executable, "-c", "import sys, tensorflow_text; "
                   "from tensorflow.python.tools.saved_model_cli import main; "
                   "sys.argv[0] = 'saved_model_cli'; sys.exit(main())"]

TEXTS = ["hello", "héllo wörld", "🙂 ok"]
# Characters, not bytes: "é" is 2 bytes and "🙂" 4, so a bytes count would give 13 and 7.
LENGTHS = [5, 11, 4]
UPPERS = ["HELLO", "HÉLLO WÖRLD", "🙂 OK"]


class TinyServable(tf.Module):
    """Three signatures shaped like an export's: text in, several outputs; two typed inputs; raw bytes."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def text(self, text):
        return {"length": tf.strings.length(text, unit="UTF8_CHAR"),
                "upper": tf.strings.upper(text, encoding="utf-8")}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="a"),
                                  tf.TensorSpec([None], tf.float32, name="b")])
    def pair(self, a, b):
        return {"score": tf.cast(tf.reduce_sum(a, axis=1), tf.float32) * b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="data")])
    def echo(self, data):
        return {"echo": data, "echo_bytes": data}


def save_tiny_servable(path):
    """Saves `TinyServable` as a SavedModel at `path` (signatures serving_default, pair, echo)."""
    module = TinyServable()
    tf.saved_model.save(module, str(path), signatures={
        "serving_default": module.text, "pair": module.pair, "echo": module.echo})
    return str(path)
