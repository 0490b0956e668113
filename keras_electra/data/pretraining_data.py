"""Raw text -> pre-training TFRecord shards, as the original ELECTRA builder makes them.

`build_pretraining_data` is google-research/electra `build_pretraining_dataset.py`
with the same examples (`ExampleBuilder`: segment packing, 10% single-segment
examples, 5% random target lengths, documents never sharing an example) and
the same features (`input_ids`, `input_mask`, `segment_ids`: int64,
`max_seq_length` values each). What differs, and why:

* Tokenization is tensorflow-text's `FastBertTokenizer` on batches of lines
  (up to 1024 lines / 4 MiB per call), not a Python WordPiece loop per line.
* Documents (runs of lines between blank lines; a file's end also ends one)
  go to shards deterministically: in input order, shard `i` of `n` gets the
  documents whose middle byte falls in the `i`-th `n`-th of the input bytes
  (contiguous and balanced by size). Each shard is built from its own
  documents alone with `random.Random` seeded from `(seed, shard index)`, so
  the output is byte-identical for a given seed whatever `num_processes` is
  (processes only decide which shard is built where).
* Crash-safe and resumable: a shard is written under `OUTPUT_DIR/.build/`
  (`<name>.partial-<pid>`), its statistics next to it (`<name>.json`), and only
  then renamed to its final name; a final name therefore always holds a
  complete shard. A re-run removes leftover `.partial` files and skips every
  shard whose final file exists (and logs so), after checking that it was
  built with the same settings and inputs (otherwise it is an error: shards
  made differently are never mixed). `stats.json` is written last, atomically.
  Spawned workers die with the builder (Linux `PR_SET_PDEATHSIG`), so a
  killed build leaves no process writing on.

Shard names (stable): `pretrain_data.tfrecord-00003-of-00008` (the original
builder's), and with `compression="gzip"` `pretrain_data-00003-of-00008.tfrecord.gz`.

Input handling (each counted in `stats.json`):

* Files are read as bytes and split on `\\n`; a line is blank when
  `str.strip()` leaves nothing.
* A line with a NUL byte or invalid UTF-8 is skipped (`skipped_lines`:
  `nul_byte`, `invalid_utf8`); it neither adds text nor ends a document.
  A file where skipped lines outnumber text lines is an error naming the
  file (a binary file, not text with a few bad lines).
* An empty file (or one with only blank lines) is skipped with a warning and
  listed in `empty_input_files`; if no input file has text it is an error.
* A line longer than `max_line_bytes` (default 1 MiB) is read in pieces of
  at most that many bytes (cut on a UTF-8 character boundary), each piece a
  line of the same document (`num_long_lines`, `num_long_line_pieces`).
  Memory stays bounded and nothing hangs on a multi-gigabyte line. Ordinary
  paragraphs are far shorter.
* A line of more than `max_seq_length - 3` WordPieces is cut into sentences
  (after `.`, `!`, `?` tokens; any sentence still longer into pieces of
  `max_seq_length - 3`) that are fed to the builder as lines
  (`num_split_lines`), so a corpus with one paragraph per line (like the
  gutenberg one, where the original behaviour drops 38% of the text) is
  packed like the one-sentence-per-line text the original was written for. `split_long_lines=False` restores the
  original: such a line keeps only its first `max_seq_length - 2` tokens in
  its example (`num_truncated_tokens` counts what truncation drops).

`stats.json` keys: the settings, `input_files`, `empty_input_files`,
`output_files`, `num_documents`, `num_lines` (text lines fed to the builder),
`num_blank_lines`, `num_skipped_lines` and `skipped_lines` (by reason),
`num_long_lines`, `num_long_line_pieces`, `input_bytes`, `num_examples`,
`num_tokens` (real positions, `[CLS]`/`[SEP]` included), `num_padding`,
`num_input_tokens` (WordPieces of the text), `num_truncated_tokens`,
`num_single_segment_examples`, `num_short_target_examples`, and `shards`
(the same counts per shard, with `file` and `bytes`).

Only local paths: files are read with `open`, shards renamed with `os.replace`.
One builder at a time per output directory.
"""

import collections
import hashlib
import json
import os
import random
import re
import sys
import time

from absl import logging

from keras_electra.data.example_builder import ExampleBuilder
from keras_electra.data.vocab import load_vocabulary, special_token_ids

SHARD_PREFIX = "pretrain_data"
STATS_FILE = "stats.json"
WORK_DIR = ".build"  # temporary shards and per-shard statistics
PARTIAL_SUFFIX = ".partial"
DEFAULT_MAX_LINE_BYTES = 1 << 20
SENTENCE_END_TOKENS = (".", "!", "?")
COMPRESSIONS = ("none", "gzip")

_BATCH_LINES = 1024  # lines per tokenizer call
_BATCH_BYTES = 4 << 20  # ... or this many bytes, whichever comes first
_FORMAT_VERSION = 2  # bump when the bytes of a shard would change for the same inputs
_SHARD_NAME = re.compile(
    rf"^{SHARD_PREFIX}(\.tfrecord-\d{{5}}-of-\d{{5}}|-\d{{5}}-of-\d{{5}}\.tfrecord\.gz)$")

# Kinds of line.
_TEXT, _BLANK, _NUL, _INVALID = "text", "blank", "nul_byte", "invalid_utf8"


def shard_filename(index, num_shards, compression="none"):
    """The name of shard `index` of `num_shards` (see the module docstring)."""
    if _normalize_compression(compression) == "gzip":
        return f"{SHARD_PREFIX}-{index:05d}-of-{num_shards:05d}.tfrecord.gz"
    return f"{SHARD_PREFIX}.tfrecord-{index:05d}-of-{num_shards:05d}"


def build_pretraining_data(
    input_files,
    vocab_file,
    output_dir,
    max_seq_length=128,
    num_shards=8,
    num_processes=1,
    compression="none",
    do_lower_case=True,
    seed=0,
    max_line_bytes=DEFAULT_MAX_LINE_BYTES,
    split_long_lines=True,
    progress=True,
):
    """Writes ELECTRA pre-training TFRecord shards and `stats.json`; returns the stats.

    Args:
        input_files: comma-separated globs, or a list of files/globs. Text,
            one paragraph per line, a blank line between documents.
        vocab_file: WordPiece `vocab.txt`; `[PAD] [UNK] [CLS] [SEP] [MASK]`
            must be in it, and their ids are taken from it.
        output_dir: where the shards and `stats.json` go (created if needed).
        max_seq_length: length of every example (at least 5).
        num_shards: number of output files.
        num_processes: shards built in parallel (spawned processes); the
            output does not depend on it.
        compression: `"none"` or `"gzip"` (`None` means `"none"`).
        do_lower_case: lowercase and strip accents before WordPiece (uncased
            vocabularies).
        seed: the output is a function of the inputs, the settings and this.
        max_line_bytes: lines longer than this are read in pieces.
        split_long_lines: feed a line of more than `max_seq_length - 3`
            WordPieces to the builder as its sentences (one paragraph per
            line is packed like one sentence per line); `False` is the
            original behaviour (the line is truncated to one example).
        progress: print a progress line to stderr.

    Returns:
        The dict written to `OUTPUT_DIR/stats.json`.

    Example:

    >>> import os, tempfile
    >>> import tensorflow as tf
    >>> tmp = tempfile.mkdtemp()
    >>> with open(os.path.join(tmp, "vocab.txt"), "w") as f:
    ...     _ = f.write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...                        "the", "cat", "sat", "a", "dog", "ran", "."]))
    >>> with open(os.path.join(tmp, "corpus.txt"), "w") as f:
    ...     _ = f.write("The cat sat.\\nA dog ran.\\n\\nThe dog sat.\\n")
    >>> stats = build_pretraining_data(os.path.join(tmp, "corpus.txt"),
    ...     os.path.join(tmp, "vocab.txt"), os.path.join(tmp, "out"),
    ...     max_seq_length=16, num_shards=2, seed=1, progress=False)
    >>> stats["num_documents"], stats["num_examples"], stats["output_files"]
    (2, 2, ['pretrain_data.tfrecord-00000-of-00002', 'pretrain_data.tfrecord-00001-of-00002'])
    >>> path = os.path.join(tmp, "out", stats["output_files"][1])
    >>> record = next(iter(tf.data.TFRecordDataset(path)))
    >>> spec = tf.io.FixedLenFeature([16], tf.int64)
    >>> example = tf.io.parse_single_example(
    ...     record, {"input_ids": spec, "input_mask": spec, "segment_ids": spec})
    >>> example["input_ids"].numpy().tolist()  # [CLS] the dog sat . [SEP] [PAD]...
    [2, 5, 9, 7, 11, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    """
    started = time.time()
    compression = _normalize_compression(compression)
    if max_seq_length < 5:
        raise ValueError(f"max_seq_length must be at least 5, got {max_seq_length}.")
    if num_shards < 1:
        raise ValueError(f"num_shards must be at least 1, got {num_shards}.")
    if num_processes < 1:
        raise ValueError(f"num_processes must be at least 1, got {num_processes}.")
    if max_line_bytes < 64:
        raise ValueError(f"max_line_bytes must be at least 64, got {max_line_bytes}.")
    from keras_electra.data.text_dataset import expand_file_patterns

    if isinstance(input_files, os.PathLike):
        input_files = [input_files]
    if not isinstance(input_files, str):
        input_files = [os.fspath(pattern) for pattern in input_files]
    vocab_file, output_dir = os.fspath(vocab_file), os.fspath(output_dir)
    files = expand_file_patterns(input_files)
    vocabulary = load_vocabulary(vocab_file)
    special = special_token_ids(vocabulary, source=vocab_file)

    settings = {
        "max_seq_length": int(max_seq_length), "num_shards": int(num_shards),
        "seed": int(seed), "do_lower_case": bool(do_lower_case), "compression": compression,
        "max_line_bytes": int(max_line_bytes), "split_long_lines": bool(split_long_lines),
    }
    with _Workers(min(num_processes, num_shards)) as workers:
        scans = [_scan_file(path, max_line_bytes) for path in files]
        empty = [path for path, scan in zip(files, scans) if not scan.docs]
        for path in empty:
            logging.warning("%s: no text (empty or only blank lines); skipped.", path)
        if len(empty) == len(files):
            raise ValueError(f"no text in the input files: {', '.join(files)}.")
        docs = [(i, start, end) for i, scan in enumerate(scans) for start, end in scan.docs]
        shard_stats, tasks = _plan_shards(
            _assign_documents(docs, num_shards), output_dir, settings,
            files=files, vocab_file=vocab_file, special=special,
            sentence_end_ids=sorted(i for i, token in enumerate(vocabulary)
                                    if token in SENTENCE_END_TOKENS),
            fingerprint=_fingerprint(settings, vocab_file, files, docs))
        meter = _Progress(sum(end - start for task in tasks for _, start, end in task["docs"]),
                          len(tasks), enabled=progress)
        for result in workers.run(tasks, meter):
            shard_stats[result["index"]] = result
        meter.close()

    stats = _summarize(settings, vocab_file, vocabulary, special, files, empty, scans,
                       [shard_stats[i] for i in range(num_shards)])
    _write_json_atomically(stats, os.path.join(output_dir, STATS_FILE),
                           os.path.join(output_dir, WORK_DIR))
    logging.info("%d examples in %d shards under %s (%.1f s).", stats["num_examples"],
                 num_shards, output_dir, time.time() - started)
    return stats


def _plan_shards(shard_docs, output_dir, settings, **common):
    """`({index: stats} of complete shards, [tasks] for the others)`; clears leftovers."""
    num_shards = settings["num_shards"]
    names = [shard_filename(i, num_shards, settings["compression"]) for i in range(num_shards)]
    work_dir = os.path.join(output_dir, WORK_DIR)
    os.makedirs(work_dir, exist_ok=True)
    _remove_partials(work_dir)
    _warn_about_foreign_shards(output_dir, names)
    complete, tasks = {}, []
    for index, name in enumerate(names):
        if os.path.exists(os.path.join(output_dir, name)):
            complete[index] = _load_completed_shard(output_dir, name, common["fingerprint"])
            logging.info("%s exists (complete): skipped.", name)
        else:
            tasks.append({"index": index, "name": name, "output_dir": output_dir,
                          "docs": shard_docs[index], **settings, **common})
    if not tasks:
        logging.info("all %d shards exist in %s: only stats.json is rewritten.", num_shards,
                     output_dir)
    return complete, tasks


def _normalize_compression(compression):
    value = "none" if compression in (None, "") else str(compression).lower()
    if value not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}.")
    return value


# --- Reading ----------------------------------------------------------------------------


def _utf8_cut(chunk):
    """Where to cut `chunk` (full, not ending a line) without splitting a UTF-8 character."""
    n = len(chunk)
    for i in range(n - 1, max(n - 5, -1), -1):
        byte = chunk[i]
        if byte & 0xC0 != 0x80:  # ASCII or a lead byte
            width = 1 if byte < 0xC0 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return i if 0 < i and i + width > n else n
    return n


def _iter_chunks(f, max_line_bytes):
    """Yields `(chunk, ends_line, piece)` from a binary file's current position.

    A chunk is a whole line (`piece == 0`) or, for a line longer than
    `max_line_bytes`, one of its pieces (`piece` = 1, 2, ...). The bytes of
    the chunks add up to the bytes read, so callers can track offsets.
    """
    carry, piece = b"", 0
    while True:
        chunk = carry + f.readline(max_line_bytes - len(carry))
        carry = b""
        if not chunk:
            return
        if chunk.endswith(b"\n") or len(chunk) < max_line_bytes:  # a line end or EOF
            yield chunk, True, (piece + 1 if piece else 0)
            piece = 0
        else:
            cut = _utf8_cut(chunk)
            chunk, carry = chunk[:cut], chunk[cut:]
            piece += 1
            yield chunk, False, piece


def _classify(chunk):
    if b"\x00" in chunk:
        return _NUL
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError:
        return _INVALID
    return _TEXT if text.strip() else _BLANK


_FileScan = collections.namedtuple("_FileScan", ["docs", "counts"])


def _scan_file(path, max_line_bytes):
    """Finds a file's documents (byte ranges of whole lines) and counts its lines.

    A document starts at the first line with text after a blank line (or
    the file start) and ends after its last line with text. The shard
    builder re-reads exactly these ranges with the same reader.
    """
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory, not a text file.")
    counts = collections.Counter()
    docs = []
    offset = line_start = 0
    doc_start = last_text_end = None
    line_has_text = False
    try:
        with open(path, "rb") as f:
            for chunk, ends_line, piece in _iter_chunks(f, max_line_bytes):
                offset += len(chunk)
                kind = _classify(chunk)
                if piece:
                    counts["long_line_pieces"] += 1
                    counts["long_lines"] += piece == 1
                if kind == _TEXT:
                    counts["lines"] += 1
                    line_has_text = True
                    if doc_start is None:
                        doc_start = line_start
                elif kind == _BLANK:
                    # A blank piece of a long line is not a blank line.
                    if not piece:
                        counts["blank_lines"] += 1
                        if doc_start is not None:
                            docs.append((doc_start, last_text_end))
                            doc_start = None
                else:
                    counts[kind] += 1
                if ends_line:
                    if line_has_text:
                        last_text_end = offset
                    line_start, line_has_text = offset, False
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e}).") from None
    if line_has_text:  # a last piece at EOF that did not end its line
        last_text_end = offset
    if doc_start is not None:
        docs.append((doc_start, last_text_end))
    bad = counts[_NUL] + counts[_INVALID]
    if bad > counts["lines"]:
        raise ValueError(
            f"{path}: {bad} of {bad + counts['lines']} non-blank lines are not UTF-8 text "
            f"({counts[_NUL]} with NUL bytes, {counts[_INVALID]} invalid UTF-8); "
            "is it a binary file, or text in another encoding?")
    counts["bytes"] = offset
    counts["documents"] = len(docs)
    return _FileScan(docs, counts)


def _assign_documents(docs, num_shards):
    """Shard `i` gets the documents whose middle byte lies in the `i`-th `n`-th of the input."""
    total = sum(end - start for _, start, end in docs)
    shards = [[] for _ in range(num_shards)]
    seen = 0
    for doc in docs:
        size = doc[2] - doc[1]
        shards[min(num_shards - 1, (2 * seen + size) * num_shards // (2 * total))].append(doc)
        seen += size
    return shards


# --- Building one shard (in this process or a spawned one) ------------------------------

_TOKENIZERS = {}
_WORKER_COUNTER = None


def _init_worker(counter, parent_pid):
    global _WORKER_COUNTER
    _WORKER_COUNTER = counter
    _die_with_parent(parent_pid)
    import tensorflow as tf

    # One op thread per process: the processes are the parallelism.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _die_with_parent(parent_pid):
    """A worker whose builder was killed stops too (Linux), instead of writing on."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


def _build_shard_in_worker(task):
    def report(num_bytes):
        with _WORKER_COUNTER.get_lock():
            _WORKER_COUNTER.value += num_bytes

    return _build_shard(task, report)


def _tokenizer(vocab_file, lowercase):
    key = (vocab_file, lowercase)
    if key not in _TOKENIZERS:
        from keras_electra.data.tokenizer import make_tokenizer

        _TOKENIZERS[key] = make_tokenizer(vocab_file, lowercase)[0]
    return _TOKENIZERS[key]


def _tokenize(tokenizer, lines):
    """Token-id lists of a batch of lines, in one tensorflow-text call."""
    import tensorflow as tf

    ragged = tokenizer.tokenize(tf.constant(lines, dtype=tf.string))
    ids = ragged.flat_values.numpy().tolist()
    splits = ragged.row_splits.numpy().tolist()
    return [ids[splits[i]:splits[i + 1]] for i in range(len(lines))]


def split_into_sentences(ids, sentence_end_ids, max_piece):
    """Cuts a token-id list after each sentence end, and any piece into <= `max_piece`.

    A paragraph becomes the sentence-per-line input the original builder
    was written for.

    >>> split_into_sentences([5, 6, 1, 7, 8, 9, 1, 4], sentence_end_ids={1}, max_piece=2)
    [[5, 6], [1], [7, 8], [9, 1], [4]]
    """
    pieces, current = [], []
    for token in ids:
        current.append(token)
        if token in sentence_end_ids:
            pieces.append(current)
            current = []
    if current:
        pieces.append(current)
    return [piece[i:i + max_piece] for piece in pieces for i in range(0, len(piece), max_piece)]


def _serialize(example):
    import tensorflow as tf

    feature = {
        name: tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        for name, values in example.items()
    }
    proto = tf.train.Example(features=tf.train.Features(feature=feature))
    return proto.SerializeToString(deterministic=True)


def _shard_rng(seed, index):
    # A str seed goes through SHA-512: stable across runs and Python processes.
    return random.Random(f"keras_electra.pretraining_data:{seed}:{index}")


def _read_documents(task):
    """Yields each document's text lines (bytes) then `None`, for the task's documents."""
    handles = {}
    try:
        for file_index, start, end in task["docs"]:
            if file_index not in handles:
                handles[file_index] = open(task["files"][file_index], "rb")
            f = handles[file_index]
            f.seek(start)
            offset = start
            for chunk, ends_line, _ in _iter_chunks(f, task["max_line_bytes"]):
                offset += len(chunk)
                if _classify(chunk) == _TEXT:
                    yield chunk
                if ends_line and offset >= end:
                    break
            yield None
    finally:
        for f in handles.values():
            f.close()


def _build_shard(task, report=None):
    """Builds one shard under its temporary name, then renames it; returns its stats."""
    import tensorflow as tf

    pad_id, _, cls_id, sep_id, _ = task["special"]
    max_length = task["max_seq_length"]
    tokenizer = _tokenizer(task["vocab_file"], task["do_lower_case"])
    builder = ExampleBuilder(max_length=max_length, cls_id=cls_id, sep_id=sep_id,
                             pad_id=pad_id, rng=_shard_rng(task["seed"], task["index"]))
    work_dir = os.path.join(task["output_dir"], WORK_DIR)
    # Unique per process, so that nothing else ever writes to or renames this file.
    partial = os.path.join(work_dir, f"{task['name']}{PARTIAL_SUFFIX}-{os.getpid()}")
    options = tf.io.TFRecordOptions(compression_type="GZIP" if task["compression"] == "gzip"
                                    else "")
    counts = collections.Counter()

    # Longest piece that fits one example with its [CLS] and two [SEP]s.
    piece = max(1, max_length - 3)

    def write(example):
        writer.write(_serialize(example))
        counts["tokens"] += sum(example["input_mask"])

    def flush(items):
        texts = [item for item in items if item is not None]
        tokens = iter(_tokenize(tokenizer, texts) if texts else [])
        for item in items:
            if item is None:
                counts["documents"] += 1
                example = builder.end_document()
                if example is not None:
                    write(example)
                continue
            counts["lines"] += 1
            ids = next(tokens)
            if task["split_long_lines"] and len(ids) > piece:
                counts["split_lines"] += 1
                pieces = split_into_sentences(ids, task["sentence_end_ids"], piece)
            else:
                pieces = [ids]
            for ids in pieces:
                example = builder.add_line(ids)
                if example is not None:
                    write(example)
        if report is not None:
            report(sum(len(text) for text in texts))

    with tf.io.TFRecordWriter(partial, options) as writer:
        items, num_lines, num_bytes = [], 0, 0
        for item in _read_documents(task):
            items.append(item)
            if item is not None:
                num_lines += 1
                num_bytes += len(item)
                if num_lines >= _BATCH_LINES or num_bytes >= _BATCH_BYTES:
                    flush(items)
                    items, num_lines, num_bytes = [], 0, 0
        flush(items)
    _fsync(partial)

    stats = {
        "index": task["index"],
        "file": task["name"],
        "bytes": os.path.getsize(partial),
        "input_bytes": sum(end - start for _, start, end in task["docs"]),
        "num_documents": counts["documents"],
        "num_lines": counts["lines"],
        "num_split_lines": counts["split_lines"],
        "num_examples": builder.num_examples,
        "num_tokens": counts["tokens"],
        "num_padding": builder.num_examples * max_length - counts["tokens"],
        "num_input_tokens": builder.num_input_tokens,
        "num_truncated_tokens": builder.num_truncated_tokens,
        "num_single_segment_examples": builder.num_single_segment,
        "num_short_target_examples": builder.num_short_target,
    }
    # Statistics first, then the shard: a final name always has its record.
    _write_json_atomically({"fingerprint": task["fingerprint"], "shard": stats},
                           os.path.join(work_dir, task["name"] + ".json"), work_dir)
    os.replace(partial, os.path.join(task["output_dir"], task["name"]))
    return stats


class _Workers:
    """Builds shards in this process, or in spawned processes.

    The pool starts before the input scan, so that the processes' TensorFlow
    start-up (seconds each) overlaps it. spawn, not fork: TensorFlow is not
    fork-safe once it has started threads.
    """

    def __init__(self, num_processes):
        self.pool = None
        if num_processes > 1:
            import multiprocessing

            context = multiprocessing.get_context("spawn")
            self.counter = context.Value("q", 0)
            self.pool = context.Pool(num_processes, initializer=_init_worker,
                                     initargs=(self.counter, os.getpid()))

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def run(self, tasks, meter):
        """Yields shard stats as shards finish."""
        if self.pool is None:
            done_bytes = [0]

            def report(num_bytes):
                done_bytes[0] += num_bytes
                meter.update(done_bytes[0])

            for task in tasks:
                result = _build_shard(task, report)
                meter.shard_done()
                yield result
            return
        pending = [self.pool.apply_async(_build_shard_in_worker, (task,)) for task in tasks]
        while pending:
            meter.update(self.counter.value)
            still = []
            for result in pending:
                if result.ready():
                    meter.shard_done()
                    yield result.get()  # re-raises a worker's error
                else:
                    still.append(result)
            pending = still
            if pending:
                pending[0].wait(0.25)


# --- Bookkeeping ------------------------------------------------------------------------


def _fingerprint(settings, vocab_file, files, docs):
    """What a shard's bytes depend on: settings, vocabulary, inputs and their documents."""
    digest = hashlib.sha256()
    with open(vocab_file, "rb") as f:
        vocab_hash = hashlib.sha256(f.read()).hexdigest()
    inputs = [[os.path.realpath(path), os.path.getsize(path)] for path in files]
    digest.update(json.dumps([_FORMAT_VERSION, settings, vocab_hash, inputs],
                             sort_keys=True).encode())
    digest.update(json.dumps(docs).encode())
    return digest.hexdigest()


def _load_completed_shard(output_dir, name, fingerprint):
    record = os.path.join(output_dir, WORK_DIR, name + ".json")
    try:
        with open(record, encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        saved = None
    if not saved or saved.get("fingerprint") != fingerprint:
        raise ValueError(
            f"{os.path.join(output_dir, name)}: exists but was not built from these inputs "
            "with these settings (vocabulary, max_seq_length, num_shards, seed, "
            "do_lower_case, compression); delete it or choose another output directory.")
    return saved["shard"]


def _remove_partials(work_dir):
    for name in os.listdir(work_dir):
        if PARTIAL_SUFFIX in name:
            logging.info("removing %s, left by an interrupted run.", name)
            os.remove(os.path.join(work_dir, name))


def _warn_about_foreign_shards(output_dir, names):
    expected = set(names)
    others = sorted(name for name in os.listdir(output_dir)
                    if _SHARD_NAME.match(name) and name not in expected)
    if others:
        logging.warning("%s also holds %d shard(s) of another build (e.g. %s); a glob over "
                        "the directory would mix them in.", output_dir, len(others), others[0])


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomically(value, path, work_dir):
    partial = os.path.join(work_dir, f"{os.path.basename(path)}{PARTIAL_SUFFIX}-{os.getpid()}")
    with open(partial, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def _summarize(settings, vocab_file, vocabulary, special, files, empty, scans, shards):
    read = collections.Counter()
    for scan in scans:
        read.update(scan.counts)
    totals = collections.Counter()
    for shard in shards:
        totals.update({k: v for k, v in shard.items() if k.startswith("num_")})
    shards = [{k: v for k, v in shard.items() if k != "index"} for shard in shards]
    return {
        **settings,
        "vocab_file": vocab_file,
        "vocab_size": len(vocabulary),
        "special_token_ids": special._asdict(),
        "input_files": list(files),
        "empty_input_files": list(empty),
        "output_files": [shard["file"] for shard in shards],
        "input_bytes": read["bytes"],
        "num_documents": read["documents"],
        "num_lines": read["lines"],
        "num_blank_lines": read["blank_lines"],
        "num_skipped_lines": read[_NUL] + read[_INVALID],
        "skipped_lines": {_NUL: read[_NUL], _INVALID: read[_INVALID]},
        "num_long_lines": read["long_lines"],
        "num_long_line_pieces": read["long_line_pieces"],
        **{key: totals[key] for key in (
            "num_examples", "num_tokens", "num_padding", "num_input_tokens",
            "num_split_lines", "num_truncated_tokens", "num_single_segment_examples",
            "num_short_target_examples")},
        "shards": shards,
    }


class _Progress:
    """A one-line progress report on stderr (rewritten in place on a terminal)."""

    def __init__(self, total_bytes, total_shards, enabled=True, stream=None):
        self.total_bytes, self.total_shards = max(total_bytes, 1), total_shards
        self.enabled = enabled and total_shards > 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = self.last = time.time()
        self.done_bytes = self.done_shards = 0

    def update(self, done_bytes):
        self.done_bytes = done_bytes
        now = time.time()
        if self.enabled and now - self.last >= (0.5 if self.tty else 10.0):
            self.last = now
            self._print()

    def shard_done(self):
        self.done_shards += 1
        now = time.time()
        last = self.done_shards == self.total_shards
        if self.enabled and not self.tty and (last or now - self.last >= 2.0):
            self.last = now
            self._print()

    def close(self):
        if self.enabled and self.tty:
            self.done_bytes = self.total_bytes
            self._print()
            self.stream.write("\n")
            self.stream.flush()

    def _print(self):
        elapsed = max(time.time() - self.started, 1e-6)
        rate = self.done_bytes / elapsed
        left = (self.total_bytes - self.done_bytes) / rate if rate else float("nan")
        line = (f"build_pretraining_data: {self.done_bytes / 1e6:.1f}/"
                f"{self.total_bytes / 1e6:.1f} MB ({100 * self.done_bytes / self.total_bytes:.0f}%)"
                f", {self.done_shards}/{self.total_shards} shards, {rate / 1e6:.2f} MB/s, "
                f"{elapsed:.0f} s elapsed, ~{left:.0f} s left")
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()
