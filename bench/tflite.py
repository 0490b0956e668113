"""On-device export: size, batch-1 latency and SST-2 dev accuracy, float vs dynamic-int8 TFLite.

    python bench/tflite.py --model_dir=runs/sst2
    python bench/tflite.py --model_dir=runs/sst2 --max_eval_examples=50  # smoke run

`--model_dir` is a fine-tuned SST-2 classifier (`model.keras`, `task.json`,
`vocab.txt`). Exports it with `export_tflite` twice (float32 and
`dynamic_int8`) to a temporary folder, tokenizes the dev sentences once
beforehand (`TextPairEncoder`, so tokenization is not timed), then runs
every sentence alone (batch 1, the on-device case) through the LiteRT
interpreter and, as the reference, through the Keras model's `classify_ids`
tf.function. Prints one JSON line per format: file size, latency p50/p99
(ms), dev accuracy and, as ratios, latency against the Keras reference and
size and accuracy against float. Both runtimes get `--num_threads` threads.
"""

import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("model_dir", None, "A fine-tuned SST-2 classifier directory.", required=True)
flags.DEFINE_string("data_dir", "../shared/data/glue/SST-2", "SST-2 folder (dev.tsv).")
flags.DEFINE_integer("max_seq_length", 64, "Fixed row length of the exported model.")
flags.DEFINE_integer("max_eval_examples", None, "Use only the first N dev sentences.")
flags.DEFINE_integer("num_threads", 1, "Threads for LiteRT and for TensorFlow (intra-op).")
flags.DEFINE_integer("warmup", 5, "Untimed runs per format first (tracing, allocation).")
FLAGS = flags.FLAGS


def timed_rows(predict, rows, warmup):
    """`(latencies in ms, outputs)` of `predict(row)` for every row, one at a time."""
    import numpy as np

    for row in rows[:warmup]:
        predict(row)
    latencies, outputs = [], []
    for row in rows:
        start = time.perf_counter()
        outputs.append(predict(row))
        latencies.append(1000 * (time.perf_counter() - start))
    return np.array(latencies), np.concatenate(outputs)


def summary(name, latencies, probabilities, labels, reference=None):
    import numpy as np

    p50, p99 = np.percentile(latencies, [50, 99])
    result = {"bench": "tflite", "format": name, "examples": len(labels),
              "max_seq_length": FLAGS.max_seq_length, "num_threads": FLAGS.num_threads,
              "latency_ms_p50": round(float(p50), 4), "latency_ms_p99": round(float(p99), 4),
              "accuracy": float(np.mean(probabilities.argmax(-1) == labels))}
    if reference is not None:
        result["latency_p50_vs_keras"] = round(float(p50) / reference["latency_ms_p50"], 4)
    return result


def main(argv):
    del argv
    import numpy as np
    import tensorflow as tf

    # Before any op runs: TF fixes its thread pools at first use.
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.num_threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from keras_electra.data.tasks.glue import read_glue
    from keras_electra.export.saved_model_export import serving_module
    from keras_electra.export.tflite_export import export_tflite, load_signature_runner

    module, kind, _ = serving_module(FLAGS.model_dir, FLAGS.max_seq_length)
    if kind != "classification":
        sys.exit(f"error: --model_dir={FLAGS.model_dir} is a {kind} model; expected a "
                 "fine-tuned SST-2 classifier.")
    examples = read_glue("sst2", FLAGS.data_dir, "dev")[:FLAGS.max_eval_examples]
    # Label ids in the model's own order (its task.json), not the reader's.
    names = [label.decode() for label in module.labels.numpy()]
    labels = np.array([names.index(example.label) for example in examples])
    encoded = module.text.encoder(tf.constant([example.text_a for example in examples]))
    rows = [{name: value[i:i + 1].numpy() for name, value in encoded.items()}
            for i in range(len(examples))]

    tensors = [{name: tf.constant(value) for name, value in row.items()} for row in rows]
    latencies, keras_probs = timed_rows(
        lambda row: module.classify_ids(**row)["probabilities"].numpy(), tensors, FLAGS.warmup)
    reference = summary("keras_classify_ids", latencies, keras_probs, labels)
    print(json.dumps(reference), flush=True)

    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for quantize in (None, "dynamic_int8"):
            name = quantize or "float"
            start = time.perf_counter()
            exported = export_tflite(FLAGS.model_dir, os.path.join(directory, f"{name}.tflite"),
                                     FLAGS.max_seq_length, quantize)
            export_s = time.perf_counter() - start
            runner, _, _ = load_signature_runner(exported["output_path"], FLAGS.num_threads)
            latencies, probs = timed_rows(lambda row: runner(**row)["probabilities"], rows,
                                          FLAGS.warmup)
            result = summary(name, latencies, probs, labels, reference)
            result.update(bytes=exported["bytes"], export_s=round(export_s, 2),
                          max_abs_probability_diff_vs_keras=float(
                              np.abs(probs - keras_probs).max()))
            if quantize:
                float_result, float_probs = results["float"]
                result.update(
                    size_vs_float=round(exported["bytes"] / float_result["bytes"], 4),
                    accuracy_change_vs_float=result["accuracy"] - float_result["accuracy"],
                    prediction_agreement_vs_float=float(
                        np.mean(probs.argmax(-1) == float_probs.argmax(-1))))
            results[name] = result, probs
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    app.run(main)
