"""Loads a SavedModel in a fresh process, as TF Serving would, and runs one signature.

    python tests/export/fresh_process_main.py EXPORT_DIR SIGNATURE INPUTS.json OUT.npz

INPUTS.json maps input names to lists; every output is saved to OUT.npz.
Only TensorFlow and tensorflow-text are imported (the ops TF Serving links),
never keras_electra: the SavedModel must stand on its own.
"""

import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)


def main(export_dir, signature_name, inputs_path, out_path):
    loaded = tf.saved_model.load(export_dir)
    signature = loaded.signatures[signature_name]
    specs = signature.structured_input_signature[1]
    with open(inputs_path) as f:
        inputs = json.load(f)
    outputs = signature(**{name: tf.constant(value, specs[name].dtype)
                           for name, value in inputs.items()})
    np.savez(out_path, **{name: value.numpy() for name, value in outputs.items()})
    assert "keras_electra" not in sys.modules


if __name__ == "__main__":
    main(*sys.argv[1:])
