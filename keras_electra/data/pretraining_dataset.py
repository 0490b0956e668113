"""The `tf.data` pipeline from pre-training TFRecords to batches for `fit`.

Reads the original google-research/electra records unchanged (int64
`input_ids`, `input_mask`, `segment_ids` of `max_seq_length` values) as well
as those `build_pretraining_data` writes. The shape of the pipeline follows
the original `pretrain_data.get_input_fn`:

    files --shard by pipeline--> shuffle files, repeat --> interleave(TFRecordDataset)
      --> shuffle records --> batch(drop_remainder) --> parse (vectorised) --> prefetch

Decisions, so that nobody has to read the code to know them:

* `batch_size` is the GLOBAL batch. With an `input_context` (from
  `strategy.distribute_datasets_from_function`) the function returns
  per-replica batches of `input_context.get_per_replica_batch_size(batch_size)`.
* Sharding is by FILE: pipeline `i` of `n` reads files `i, i + n, ...` of the
  sorted file list. With fewer files than pipelines it falls back to record
  sharding (every pipeline reads every file, keeps records `i, i + n, ...`),
  which is correct but reads `n` times the data; a warning says so.
* Ids come out as int32 (the model's dtype; TPUs want int32); every batch has a
  static shape `(per_replica_batch, max_seq_length)` (`drop_remainder=True`,
  so evaluation drops the last partial batch).
* Training (`is_training=True`): files are shuffled every epoch, records are
  shuffled in a buffer, the stream repeats forever (step-based training) and
  `interleave` is non-deterministic (`deterministic=False`: a slow file does
  not stall the others). Evaluation: no shuffling, no repeat, deterministic
  order (round-robin over `cycle_length` files, one record at a time).
* `compression="auto"` reads a file as GZIP iff its name ends in `.gz`, per
  file, so compressed and plain shards can be mixed.
"""

import tensorflow as tf
from absl import logging

from keras_electra.data.tfrecord_checks import (
    REQUIRED_FEATURES, match_files, resolve_compression, validate_tfrecords)


def pretraining_dataset(
    file_pattern,
    max_seq_length,
    batch_size,
    is_training=True,
    input_context=None,
    compression="auto",
    seed=0,
    shuffle_buffer=10_000,
    cycle_length=None,
    deterministic=None,
    validate=True,
):
    """Pre-training TFRecords -> batches of `input_ids`, `input_mask`, `segment_ids` (int32).

    Args:
        file_pattern: a comma-separated string of files/globs, or a list of
            them (`tf.io.gfile` globs, so `gs://` paths work).
        max_seq_length: the records' sequence length.
        batch_size: the GLOBAL batch size; divided by the number of replicas
            when `input_context` is given.
        is_training: shuffle files and records, repeat forever, and let
            `interleave` return records out of order.
        input_context: a `tf.distribute.InputContext`: reads this pipeline's
            share of the files and returns per-replica batches.
        compression: `"auto"` (GZIP iff the name ends in `.gz`), `""`,
            `"GZIP"` or `"ZLIB"`.
        seed: seed of the file and record shuffles (`None`: random).
        shuffle_buffer: records shuffled together when training (serialized
            records, ~1 KB each at length 128).
        cycle_length: files read at once; default `min(len(files), 8)`.
        deterministic: order guarantee of `interleave`; default
            `not is_training`.
        validate: check the first record of every file first
            (`validate_tfrecords`), so a wrong feature name or length is an
            error naming the file rather than a parse error mid-training.

    Returns:
        A `tf.data.Dataset` of dicts of `(batch, max_seq_length)` int32 tensors.

    Example:

    >>> ds = pretraining_dataset("data/pretrain_data.tfrecord-*", 128, 32)  # doctest: +SKIP
    >>> pretrainer.fit(ds, steps_per_epoch=1000, epochs=10)  # doctest: +SKIP

    Under a strategy, pass the global batch and let the context divide it:

    >>> ds = strategy.distribute_datasets_from_function(  # doctest: +SKIP
    ...     lambda ctx: pretraining_dataset(files, 128, 256, input_context=ctx))
    """
    files = match_files(file_pattern)
    per_replica_batch = batch_size
    record_shard = None
    if input_context is not None:
        per_replica_batch = input_context.get_per_replica_batch_size(batch_size)
        pipelines, pipeline_id = input_context.num_input_pipelines, input_context.input_pipeline_id
        if len(files) >= pipelines:
            files = files[pipeline_id::pipelines]
        elif pipelines > 1:
            logging.warning(
                "%d input file(s) for %d input pipelines: sharding by record, so every "
                "pipeline reads every file. Write at least one file per pipeline.",
                len(files), pipelines)
            record_shard = (pipelines, pipeline_id)
    if validate:
        validate_tfrecords(files, max_seq_length, compression)
    if deterministic is None:
        deterministic = not is_training
    cycle_length = min(len(files), cycle_length or 8)

    kinds = [resolve_compression(path, compression) for path in files]
    dataset = tf.data.Dataset.from_tensor_slices((files, kinds))
    # Record sharding needs one fixed record order, so it shuffles after sharding.
    shuffle_files = is_training and record_shard is None
    if shuffle_files:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.repeat()
    dataset = dataset.interleave(
        lambda path, kind: tf.data.TFRecordDataset(path, kind),
        cycle_length=cycle_length,
        block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic or record_shard is not None,
    )
    if record_shard is not None:
        dataset = dataset.shard(*record_shard)
        if is_training:
            dataset = dataset.repeat()
    if is_training and shuffle_buffer:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    dataset = dataset.batch(per_replica_batch, drop_remainder=True)
    dataset = dataset.map(
        lambda records: _parse_batch(records, max_seq_length),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _parse_batch(records, max_seq_length):
    """Parses a batch of serialized examples at once (much faster than one by one)."""
    spec = {name: tf.io.FixedLenFeature([max_seq_length], tf.int64) for name in REQUIRED_FEATURES}
    parsed = tf.io.parse_example(records, spec)
    return {name: tf.cast(parsed[name], tf.int32) for name in REQUIRED_FEATURES}
