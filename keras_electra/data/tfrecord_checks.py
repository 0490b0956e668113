"""Checks that pre-training TFRecords are what the model expects, before training.

A bad shard otherwise shows up minutes into a run as a graph error that names
no file (`corrupted record at 10416`, `Key: input_ids. Can't parse serialized
Example`). Everything here raises a one-line `ValueError` that starts with the
file's path.

    validate_tfrecords(files, max_seq_length=128)             # first record of each file
    validate_tfrecords(files, max_seq_length=128, full=True)  # every record (CRCs, lengths)

The records are the original google-research/electra ones: a `tf.train.Example`
with int64 features `input_ids`, `input_mask`, `segment_ids`, each of exactly
`max_seq_length` values.
"""

import contextlib
import fnmatch
import gzip
import os
import re
import zlib

import tensorflow as tf
from absl import logging

REQUIRED_FEATURES = ("input_ids", "input_mask", "segment_ids")

# `x.tfrecord`, `x.tfrecord.gz`, and the original builder's `x.tfrecord-00001-of-01000`.
_TFRECORD_GLOBS = ("*.tfrecord", "*.tfrecord.gz", "*.tfrecords", "*.tfrecords.gz",
                   "*.tfrecord-*-of-*")
_COMPRESSIONS = {"": "", "none": "", "gzip": "GZIP", "zlib": "ZLIB"}


def match_files(patterns):
    """Comma-separated globs or a list of them -> sorted files (`tf.io.gfile`, so `gs://` works).

    A pattern that matches nothing is an error naming it.
    """
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [p for p in str(patterns).split(",") if p]
    files = []
    for pattern in patterns:
        matched = sorted(tf.io.gfile.glob(str(pattern)))
        if not matched:
            raise ValueError(f"{pattern}: no file matches this input pattern.")
        files.extend(matched)
    if not files:
        raise ValueError("no input files given.")
    return files


def is_tfrecord_path(path):
    """True for names this package treats as TFRecords (see `_TFRECORD_GLOBS`)."""
    name = os.path.basename(str(path))
    return any(fnmatch.fnmatch(name, glob) for glob in _TFRECORD_GLOBS)


def resolve_compression(path, compression="auto"):
    """`"GZIP"`, `"ZLIB"` or `""` for one file; `"auto"` means GZIP iff the name ends in `.gz`."""
    if compression is None:
        return ""
    if compression == "auto":
        return "GZIP" if str(path).endswith(".gz") else ""
    try:
        return _COMPRESSIONS[compression.lower()]
    except KeyError:
        raise ValueError(
            f"compression must be 'auto', '', 'GZIP' or 'ZLIB', got {compression!r}.") from None


def _one_line(error):
    """The useful part of a TF error message, on one line (no graph traceback, no op names)."""
    message = getattr(error, "message", None) or str(error)
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
    message = re.sub(r"\s*\[\[\{\{node .*", "", message, flags=re.S)
    message = re.sub(r"\s*\[Op:[^\]]*\].*", "", message, flags=re.S)
    kept = [line.strip() for line in message.splitlines()
            if line.strip() and not line.strip().startswith(
                ("Graph execution error", "Detected at node", "File \"", "Detected unsupported"))]
    return " ".join(" ".join(kept).split())


def _good_records_before_error(path, compression):
    """Records readable before the first data error (the reader stops at it)."""
    dataset = tf.data.TFRecordDataset(path, compression)
    dataset = dataset.ignore_errors()
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def _data_loss(path, compression, error, good_records):
    hint = ""
    if not compression and "Is this even a TFRecord" in str(error):
        hint = " If it is GZIP-compressed, name it *.gz or pass compression='GZIP'."
    return ValueError(
        f"{path}: corrupted or truncated TFRecord after {good_records} good record(s) "
        f"({_one_line(error)}).{hint}")


def _check_example(path, serialized, max_seq_length, vocab_size, which="first record"):
    try:
        example = tf.train.Example.FromString(serialized)
    except Exception as e:  # protobuf's DecodeError
        raise ValueError(f"{path}: {which} is not a tf.train.Example ({e}).") from None
    features = example.features.feature
    for name in REQUIRED_FEATURES:
        if name not in features:
            raise ValueError(
                f"{path}: {which} has no feature '{name}' (has {sorted(features)}); "
                f"pre-training records need {list(REQUIRED_FEATURES)}.")
        kind = features[name].WhichOneof("kind")
        if kind != "int64_list":
            raise ValueError(f"{path}: feature '{name}' of the {which} is a {kind}, "
                             f"expected an int64_list.")
        length = len(features[name].int64_list.value)
        if length != max_seq_length:
            raise ValueError(
                f"{path}: feature '{name}' of the {which} has {length} values, expected "
                f"max_seq_length={max_seq_length} (records built for another sequence length?).")
    ids = features["input_ids"].int64_list.value
    if vocab_size is not None and ids and (max(ids) >= vocab_size or min(ids) < 0):
        bad = max(ids) if max(ids) >= vocab_size else min(ids)
        raise ValueError(
            f"{path}: {which} has token id {bad}, outside a vocabulary of {vocab_size} "
            f"(records built with another vocabulary?).")


def _check_gzip_stream(path):
    """TF's GZIP reader stops silently at a truncated stream; Python's `gzip` does not."""
    try:
        with tf.io.gfile.GFile(path, "rb") as raw, gzip.GzipFile(fileobj=raw) as f:
            while f.read(1 << 22):
                pass
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(f"{path}: corrupted or truncated GZIP stream ({e}).") from None


def _check_all_records(path, compression, max_seq_length, vocab_size, batch=4096):
    """Reads and parses every record; returns the record count."""
    spec = {name: tf.io.RaggedFeature(tf.int64) for name in REQUIRED_FEATURES}
    dataset = tf.data.TFRecordDataset(path, compression).batch(batch)
    count = 0
    iterator = iter(dataset)
    while True:
        try:
            records = next(iterator)
        except StopIteration:
            break
        except tf.errors.DataLossError as e:
            raise _data_loss(path, compression, e,
                             _good_records_before_error(path, compression)) from None
        try:
            parsed = tf.io.parse_example(records, spec)
        except tf.errors.InvalidArgumentError:
            # A record of the wrong kind: find it and report it the slow way.
            for i, serialized in enumerate(records.numpy()):
                _check_example(path, serialized, max_seq_length, vocab_size,
                               which=f"record {count + i}")
            raise
        for name in REQUIRED_FEATURES:
            lengths = parsed[name].row_lengths().numpy()
            bad = (lengths != max_seq_length).nonzero()[0]
            if bad.size:
                raise ValueError(
                    f"{path}: feature '{name}' of record {count + bad[0]} has "
                    f"{lengths[bad[0]]} values, expected max_seq_length={max_seq_length}.")
        if vocab_size is not None:
            ids = parsed["input_ids"].flat_values
            if int(tf.reduce_max(ids)) >= vocab_size or int(tf.reduce_min(ids)) < 0:
                for i, serialized in enumerate(records.numpy()):
                    _check_example(path, serialized, max_seq_length, vocab_size,
                                   which=f"record {count + i}")
        count += int(records.shape[0])
    if compression == "GZIP":
        _check_gzip_stream(path)
    return count


def validate_tfrecords(files, max_seq_length, compression="auto", full=False, vocab_size=None):
    """Checks pre-training TFRecords; raises a one-line `ValueError` naming the bad file.

    By default reads the first record of every file: it must be a
    `tf.train.Example` with int64 `input_ids`, `input_mask`, `segment_ids` of
    exactly `max_seq_length` values (and ids below `vocab_size`, if given).
    With `full=True` it reads every record (CRC checks catch corrupted and
    truncated files; GZIP streams are checked to their end, since TF's reader
    stops silently at a truncated one) and checks every record's lengths.
    Empty files are skipped with a warning; all files empty is an error.

    Args:
        files: file paths or globs (comma-separated string or list).
        max_seq_length: the length every feature must have.
        compression: `"auto"` (GZIP for names ending in `.gz`), `""`,
            `"GZIP"` or `"ZLIB"`.
        full: read every record, not just the first.
        vocab_size: if given, token ids must be in `[0, vocab_size)`.

    Returns:
        With `full=True`, the number of records per file (a list); else `None`.

    Example:

    >>> validate_tfrecords("data/*.tfrecord.gz", max_seq_length=128)  # doctest: +SKIP
    """
    files = match_files(files)
    counts, empty = [], 0
    # Eagerly, even when called while a `tf.function` is being traced.
    with tf.init_scope():
        for path in files:
            kind = resolve_compression(path, compression)
            try:
                first = list(tf.data.TFRecordDataset(path, kind).take(1).as_numpy_iterator())
            except tf.errors.DataLossError as e:
                raise _data_loss(path, kind, e, 0) from None
            except tf.errors.NotFoundError as e:
                raise ValueError(f"{path}: {_one_line(e)}") from None
            if not first:
                logging.warning("%s: empty TFRecord file (no records); skipped.", path)
                empty += 1
                counts.append(0)
                continue
            _check_example(path, first[0], max_seq_length, vocab_size)
            if full:
                counts.append(_check_all_records(path, kind, max_seq_length, vocab_size))
    if empty == len(files):
        raise ValueError(f"{files[0]}: no records in any of the {len(files)} input file(s).")
    return counts if full else None


@contextlib.contextmanager
def explain_tfrecord_errors(files, max_seq_length, compression="auto", vocab_size=None):
    """Turns a data error raised while training into a `ValueError` naming the file.

    TF's reader says `corrupted record at 10416` and the parser says
    `Can't parse serialized Example`, neither with a file name. On such an
    error this re-reads every file with `validate_tfrecords(full=True)`; if
    that finds the culprit its message replaces the original error,
    otherwise the original error is re-raised.

    Example:

    >>> with explain_tfrecord_errors(files, 128):  # doctest: +SKIP
    ...     model.fit(pretraining_dataset(files, 128, 32), steps_per_epoch=100)
    """
    try:
        yield
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        logging.warning("data error while training (%s); checking every record of the input.",
                        _one_line(error))
        validate_tfrecords(files, max_seq_length, compression, full=True, vocab_size=vocab_size)
        raise
