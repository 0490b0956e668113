"""A `tf.data` pipeline from raw text files straight to pre-training batches.

For small runs (the demo, smoke tests): lines are WordPiece-tokenized in the
graph with tensorflow-text's `FastBertTokenizer`, the token stream is cut
into `max_seq_length - 2` pieces and wrapped as `[CLS] piece [SEP]`. It does
not do the original builder's sentence-pair packing; use TFRecords made by
`build_pretraining_data` for real runs.
"""


import tensorflow as tf

from keras_electra.data.tfrecord_checks import match_files
from keras_electra.data.tokenizer import make_tokenizer

# Comma-separated globs or a list of them -> sorted files; one implementation
# for text and TFRecord inputs (tf.io.gfile, so gs:// works).
expand_file_patterns = match_files


def text_dataset(
    text_files,
    vocab_file,
    max_seq_length,
    batch_size,
    lowercase=True,
    shuffle_buffer=1000,
    repeat=True,
    seed=0,
    input_context=None,
):
    """Raw text -> batches of `input_ids`, `input_mask`, `segment_ids` (int32).

    Args:
        text_files: file paths or glob patterns.
        vocab_file: WordPiece `vocab.txt`.
        max_seq_length: length of every example.
        batch_size: examples per batch (the last partial batch is dropped).
        lowercase: lowercase and strip accents before WordPiece.
        shuffle_buffer: examples shuffled together (0 disables shuffling).
        repeat: repeat forever (for step-based training).
        seed: shuffle seed.
        input_context: a `tf.distribute.InputContext`: `batch_size` is then
            the global batch, and this pipeline reads its share of the
            files (or, with fewer files than pipelines, of the examples)
            in per-replica batches.

    Example:

    >>> ds = text_dataset(["corpus.txt"], "vocab.txt", 128, 32)  # doctest: +SKIP
    >>> next(iter(ds))["input_ids"].shape  # doctest: +SKIP
    TensorShape([32, 128])
    """
    files = expand_file_patterns(text_files)
    tokenizer, _, special = make_tokenizer(vocab_file, lowercase)
    piece = max_seq_length - 2

    def to_example(tokens):
        ids = tf.concat([[special.cls], tokens, [special.sep]], axis=0)
        return {
            "input_ids": ids,
            "input_mask": tf.ones_like(ids),
            "segment_ids": tf.zeros_like(ids),
        }

    example_shard = None
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        pipelines, pipeline_id = input_context.num_input_pipelines, input_context.input_pipeline_id
        if len(files) >= pipelines:
            files = files[pipeline_id::pipelines]
        else:  # every pipeline tokenizes all the text and keeps its examples
            example_shard = (pipelines, pipeline_id)
    dataset = tf.data.TextLineDataset(files)
    dataset = dataset.filter(lambda line: tf.strings.length(tf.strings.strip(line)) > 0)
    dataset = dataset.batch(256)
    dataset = dataset.map(
        lambda lines: tokenizer.tokenize(lines).flat_values,
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    dataset = dataset.unbatch().batch(piece, drop_remainder=True).map(to_example)
    if example_shard is not None:
        dataset = dataset.shard(*example_shard)
    if repeat:
        dataset = dataset.repeat()
    if shuffle_buffer:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
