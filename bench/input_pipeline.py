"""Input-pipeline throughput vs the examples/s the training step consumes.

    python bench/input_pipeline.py --records=20000 --seconds=5 \
        --configs=configs/electra_tiny.json,configs/electra_small.json

Writes `--records` random examples of length `--seq_length` to a temporary
TFRecord file (4 shards), reads them with `keras_electra.data.pretraining_dataset`
(training mode: shuffled, interleaved, repeated) for `--seconds`, and times
`fit` steps of each config at the same batch size. Prints one JSON line per
config with the ratio pipeline/step (target: >= 10).
"""

import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("records", 20_000, "Examples written.")
flags.DEFINE_integer("seq_length", 128, "Tokens per example.")
flags.DEFINE_integer("batch_size", 32, "Global batch size.")
flags.DEFINE_float("seconds", 5.0, "Seconds of reading per pipeline timing.")
flags.DEFINE_integer("repeats", 3, "Timings per side (median reported).")
flags.DEFINE_integer("steps", 5, "Training steps per timing.")
flags.DEFINE_list("configs", ["configs/electra_tiny.json", "configs/electra_small.json"],
                  "Configs whose training step is timed.")
FLAGS = flags.FLAGS


def write_records(directory, vocab_size):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    paths = [os.path.join(directory, f"bench.tfrecord-{i:05d}-of-00004") for i in range(4)]
    for shard, path in enumerate(paths):
        with tf.io.TFRecordWriter(path) as writer:
            for _ in range(FLAGS.records // 4):
                ids = rng.integers(5, vocab_size, FLAGS.seq_length)
                features = {
                    "input_ids": ids, "input_mask": np.ones_like(ids),
                    "segment_ids": np.zeros_like(ids)}
                example = tf.train.Example(features=tf.train.Features(feature={
                    k: tf.train.Feature(int64_list=tf.train.Int64List(value=v))
                    for k, v in features.items()}))
                writer.write(example.SerializeToString())
    return paths


def pipeline_examples_per_second(paths):
    from keras_electra.data import pretraining_dataset

    dataset = pretraining_dataset(paths, FLAGS.seq_length, FLAGS.batch_size, is_training=True)
    iterator = iter(dataset)
    next(iterator)  # warm up the pipeline
    rates = []
    for _ in range(FLAGS.repeats):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < FLAGS.seconds:
            count += int(next(iterator)["input_ids"].shape[0])
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def step_examples_per_second(config_path, paths):
    import keras

    from keras_electra.builders import build_pretrainer
    from keras_electra.config import ElectraConfig
    from keras_electra.data import pretraining_dataset
    from keras_electra.training.optimizer import create_optimizer

    config = ElectraConfig.from_json(config_path).with_overrides(
        {"max_seq_length": FLAGS.seq_length, "vocab_size": 8192})
    keras.utils.set_random_seed(0)
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=create_optimizer(config, 10_000))
    dataset = pretraining_dataset(paths, FLAGS.seq_length, FLAGS.batch_size, is_training=True)
    pretrainer.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)  # trace
    rates = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        pretrainer.fit(dataset, steps_per_epoch=FLAGS.steps, epochs=1, verbose=0)
        rates.append(FLAGS.steps * FLAGS.batch_size / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv):
    del argv
    with tempfile.TemporaryDirectory() as directory:
        paths = write_records(directory, vocab_size=8192)
        pipeline = pipeline_examples_per_second(paths)
        for config_path in FLAGS.configs:
            step = step_examples_per_second(config_path, paths)
            print(json.dumps({
                "bench": "input_pipeline", "config": os.path.basename(config_path),
                "batch_size": FLAGS.batch_size, "seq_length": FLAGS.seq_length,
                "pipeline_examples_per_s": round(pipeline, 1),
                "train_step_examples_per_s": round(step, 2),
                "pipeline_over_step": round(pipeline / step, 1),
                "cpu_count": os.cpu_count()}))


if __name__ == "__main__":
    app.run(main)
