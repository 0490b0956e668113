import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from keras_electra.data import pretraining_dataset, validate_tfrecords
from keras_electra.data.tfrecord_checks import explain_tfrecord_errors, is_tfrecord_path
from tests.test_case import REPO_ROOT, tiny_config

SEQ = 8


def record_values(uid, length=SEQ):
    """The features of fixture record `uid`: its id is readable back from `input_ids[0]`."""
    positions = np.arange(length)
    return {
        "input_ids": uid * 100 + positions,
        "input_mask": (positions < length - uid % 3).astype(np.int64),
        "segment_ids": (positions >= length // 2).astype(np.int64),
    }


def write_records(path, uids, length=SEQ, compression=None, values=record_values):
    """A pre-training TFRecord as the original ELECTRA builder writes it."""
    with tf.io.TFRecordWriter(str(path), options=compression) as writer:
        for uid in uids:
            features = {
                name: tf.train.Feature(int64_list=tf.train.Int64List(value=list(map(int, v))))
                for name, v in values(uid, length).items()}
            writer.write(tf.train.Example(
                features=tf.train.Features(feature=features)).SerializeToString())
    return str(path)


def uids_of(dataset):
    return [int(uid) for batch in dataset for uid in batch["input_ids"][:, 0].numpy() // 100]


def test_decodes_exact_records_in_order_with_static_shapes(tmp_path):
    path = write_records(tmp_path / "a.tfrecord", range(10))
    ds = pretraining_dataset(path, SEQ, batch_size=4, is_training=False)
    for name, spec in ds.element_spec.items():
        assert spec.shape.as_list() == [4, SEQ] and spec.dtype == tf.int32, name
    batches = list(ds)
    assert len(batches) == 2  # 10 records, drop_remainder: the last 2 are dropped
    for b, batch in enumerate(batches):
        for row in range(4):
            expected = record_values(4 * b + row)
            for name in expected:
                np.testing.assert_array_equal(batch[name][row], expected[name])


def test_gzip_and_plain_files_interleave_round_robin_and_each_record_once(tmp_path):
    plain = write_records(tmp_path / "a.tfrecord", range(0, 6))
    gz = write_records(tmp_path / "b.tfrecord.gz", range(10, 16), compression="GZIP")
    ds = pretraining_dataset(f"{plain},{tmp_path}/b.*", SEQ, 2, is_training=False, cycle_length=2)
    assert uids_of(ds) == [0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15]
    # The same files as a list, explicit compression on a file without `.gz`.
    os.rename(gz, tmp_path / "c.tfrecord-00000-of-00001")
    ds = pretraining_dataset([str(tmp_path / "c.tfrecord-*")], SEQ, 3, is_training=False,
                             compression="GZIP")
    assert uids_of(ds) == list(range(10, 16))


def test_training_stream_is_shuffled_repeated_and_seeded(tmp_path):
    # tf.data combines an op seed with the global one, which earlier tests in
    # this process may have set (run_pretraining does): pin it.
    tf.random.set_seed(0)
    files = [write_records(tmp_path / f"s{i}.tfrecord", range(8 * i, 8 * i + 8)) for i in range(3)]
    ds = pretraining_dataset(files, SEQ, 4, seed=3, shuffle_buffer=16, deterministic=True)
    assert ds.cardinality() == tf.data.INFINITE_CARDINALITY
    assert all(spec.shape.as_list() == [4, SEQ] for spec in ds.element_spec.values())
    first = uids_of(ds.take(12))  # two epochs of 24 records
    assert sorted(set(first)) == list(range(24))
    assert first[:24] != sorted(first[:24])
    assert uids_of(pretraining_dataset(files, SEQ, 4, seed=3, shuffle_buffer=16,
                                       deterministic=True).take(12)) == first
    assert uids_of(pretraining_dataset(files, SEQ, 4, seed=4, shuffle_buffer=16,
                                       deterministic=True).take(12)) != first
    # The default (non-deterministic interleave) still sees every record.
    assert sorted(set(uids_of(pretraining_dataset(files, SEQ, 4, shuffle_buffer=16).take(30)))) \
        == list(range(24))


def test_input_pipelines_read_disjoint_files(tmp_path):
    files = [write_records(tmp_path / f"p{i}.tfrecord", range(10 * i, 10 * i + 4))
             for i in range(4)]
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2)
        ds = pretraining_dataset(str(tmp_path / "p*.tfrecord"), SEQ, batch_size=4,
                                 is_training=False, input_context=context)
        assert ds.element_spec["input_ids"].shape.as_list() == [2, SEQ]  # global 4 / 2 replicas
        seen.append(uids_of(ds))
    # Pipeline 0 reads files 0 and 2, pipeline 1 files 1 and 3 (sorted order).
    assert sorted(seen[0]) == [0, 1, 2, 3, 20, 21, 22, 23]
    assert sorted(seen[1]) == [10, 11, 12, 13, 30, 31, 32, 33]
    del files


def test_fewer_files_than_pipelines_falls_back_to_disjoint_records(tmp_path):
    path = write_records(tmp_path / "one.tfrecord", range(8))
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(2, pipeline, 2)
        seen.append(uids_of(pretraining_dataset(path, SEQ, 4, is_training=False,
                                                input_context=context)))
        training = pretraining_dataset(path, SEQ, 4, input_context=context, shuffle_buffer=8)
        assert set(uids_of(training.take(8))) == set(range(pipeline, 8, 2))
    assert seen == [[0, 2, 4, 6], [1, 3, 5, 7]]


def test_global_batch_must_divide_over_replicas(tmp_path):
    path = write_records(tmp_path / "a.tfrecord", range(4))
    with pytest.raises(ValueError, match="divisible"):
        pretraining_dataset(path, SEQ, 3, input_context=tf.distribute.InputContext(1, 0, 2))


def test_is_tfrecord_path():
    for name in ("x.tfrecord", "d/x.tfrecord.gz", "pretrain_data.tfrecord-00007-of-01000"):
        assert is_tfrecord_path(name), name
    for name in ("x.txt", "x.gz", "tfrecord.txt"):
        assert not is_tfrecord_path(name), name


# ------------------------------------------------------------------ validation
def test_glob_matching_nothing_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"nothing\*\.tfrecord: no file matches"):
        pretraining_dataset(str(tmp_path / "nothing*.tfrecord"), SEQ, 2)


def test_missing_feature_is_named(tmp_path):
    path = write_records(tmp_path / "a.tfrecord", range(3), values=lambda uid, n: {
        "input_ids": np.arange(n), "input_mask": np.ones(n)})
    with pytest.raises(ValueError) as error:
        pretraining_dataset(path, SEQ, 2)
    assert str(error.value).startswith(f"{path}: first record has no feature 'segment_ids'")


def test_wrong_length_says_expected_and_got(tmp_path):
    path = write_records(tmp_path / "a.tfrecord", range(3), length=6)
    with pytest.raises(ValueError) as error:
        validate_tfrecords(path, SEQ)
    assert str(error.value) == (
        f"{path}: feature 'input_ids' of the first record has 6 values, expected "
        f"max_seq_length=8 (records built for another sequence length?).")


def test_float_feature_and_out_of_vocabulary_ids(tmp_path):
    def floats(uid, n):
        return {**record_values(uid, n), "input_mask": np.ones(n)}

    path = tmp_path / "f.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        values = floats(0, SEQ)
        features = {name: tf.train.Feature(int64_list=tf.train.Int64List(value=v.tolist()))
                    for name, v in values.items() if name != "input_mask"}
        features["input_mask"] = tf.train.Feature(
            float_list=tf.train.FloatList(value=values["input_mask"].tolist()))
        writer.write(tf.train.Example(features=tf.train.Features(feature=features))
                     .SerializeToString())
    with pytest.raises(ValueError, match=r"'input_mask' of the first record is a float_list"):
        validate_tfrecords(str(path), SEQ)
    ok = write_records(tmp_path / "ok.tfrecord", [0, 1, 2])
    with pytest.raises(ValueError, match=r"ok.tfrecord: first record has token id 7, outside "
                                         r"a vocabulary of 5"):
        validate_tfrecords(ok, SEQ, vocab_size=5)
    with pytest.raises(ValueError, match=r"ok.tfrecord: record 1 has token id 107, outside"):
        validate_tfrecords(ok, SEQ, vocab_size=50, full=True)


def test_full_check_counts_records_and_finds_a_bad_later_record(tmp_path):
    a = write_records(tmp_path / "a.tfrecord", range(5))
    b = write_records(tmp_path / "b.tfrecord.gz", range(7), compression="GZIP")
    assert validate_tfrecords([a, b], SEQ, full=True) == [5, 7]
    mixed = tmp_path / "m.tfrecord"
    with tf.io.TFRecordWriter(str(mixed)) as writer:
        for uid, length in ((0, SEQ), (1, SEQ), (2, SEQ - 1)):
            example = {name: tf.train.Feature(int64_list=tf.train.Int64List(value=v.tolist()))
                       for name, v in record_values(uid, length).items()}
            writer.write(tf.train.Example(features=tf.train.Features(feature=example))
                         .SerializeToString())
    assert validate_tfrecords(str(mixed), SEQ) is None  # the first record is fine
    with pytest.raises(ValueError, match=r"m.tfrecord: feature 'input_ids' of record 2 has 7 "
                                         r"values, expected max_seq_length=8"):
        validate_tfrecords(str(mixed), SEQ, full=True)


def _damage(path, how):
    data = bytearray(open(path, "rb").read())
    if how == "truncate":
        data = data[: len(data) // 2 + 3]
    else:
        data[len(data) // 2] ^= 0xFF
    with open(path, "wb") as f:
        f.write(bytes(data))


@pytest.mark.parametrize("name, compression", [("x.tfrecord", None), ("x.tfrecord.gz", "GZIP")])
@pytest.mark.parametrize("how", ["truncate", "flip"])
def test_truncated_or_corrupted_file_is_named(tmp_path, name, compression, how):
    path = write_records(tmp_path / name, range(200), compression=compression)
    _damage(path, how)
    try:
        # The first record still reads, except where GZIP inflates the whole
        # (small) file at once and meets the damage: then this check catches it.
        validate_tfrecords(path, SEQ)
    except ValueError:
        assert (compression, how) == ("GZIP", "flip")
    with pytest.raises(ValueError) as error:
        validate_tfrecords(path, SEQ, full=True)
    message = str(error.value)
    assert message.startswith(f"{path}: corrupted or truncated"), message
    assert "\n" not in message


def test_corrupted_first_record_and_gzip_without_gz_name(tmp_path):
    path = write_records(tmp_path / "x.tfrecord", range(3))
    data = bytearray(open(path, "rb").read())
    data[14] ^= 0xFF  # inside the first record's payload
    open(path, "wb").write(bytes(data))
    with pytest.raises(ValueError, match=r"x.tfrecord: corrupted or truncated TFRecord after 0 "
                                         r"good record\(s\) \(corrupted record at \d+\)"):
        validate_tfrecords(path, SEQ)
    gz = write_records(tmp_path / "y.tfrecord", range(3), compression="GZIP")
    with pytest.raises(ValueError, match=r"y.tfrecord: .*name it \*.gz or pass compression='GZIP'"):
        validate_tfrecords(gz, SEQ)
    assert validate_tfrecords(gz, SEQ, compression="GZIP", full=True) == [3]


def test_empty_files_are_skipped_but_not_all(tmp_path):
    empty = write_records(tmp_path / "e.tfrecord", [])
    full = write_records(tmp_path / "f.tfrecord", range(4))
    assert validate_tfrecords([empty, full], SEQ, full=True) == [0, 4]
    assert uids_of(pretraining_dataset([empty, full], SEQ, 2, is_training=False)) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"e.tfrecord: no records in any of the 1 input file"):
        validate_tfrecords(empty, SEQ)


def test_data_error_while_training_names_the_file(tmp_path):
    good = write_records(tmp_path / "a.tfrecord", range(50))
    bad = write_records(tmp_path / "b.tfrecord", range(50))
    _damage(bad, "flip")
    ds = pretraining_dataset([good, bad], SEQ, 4, validate=True)
    with pytest.raises(ValueError, match=r"b.tfrecord: corrupted or truncated TFRecord"):
        with explain_tfrecord_errors([good, bad], SEQ):
            for _ in ds.take(100):
                pass
    # A record of the wrong length after a good first one: a parse error in the graph.
    mixed = tmp_path / "m.tfrecord"
    with tf.io.TFRecordWriter(str(mixed)) as writer:
        for uid in range(8):
            example = {name: tf.train.Feature(int64_list=tf.train.Int64List(value=v.tolist()))
                       for name, v in record_values(uid, SEQ if uid != 5 else SEQ + 2).items()}
            writer.write(tf.train.Example(features=tf.train.Features(feature=example))
                         .SerializeToString())
    with pytest.raises(ValueError, match=r"m.tfrecord: feature 'input_ids' of record 5 has 10 "):
        with explain_tfrecord_errors(str(mixed), SEQ):
            list(pretraining_dataset(str(mixed), SEQ, 4, is_training=False))
    # An error the records do not explain is re-raised as it was.
    with pytest.raises(tf.errors.InvalidArgumentError, match="not mine"):
        with explain_tfrecord_errors([good], SEQ):
            raise tf.errors.InvalidArgumentError(None, None, "not mine")


# --------------------------------------------------------------- with a model
def test_pretrainer_fits_on_tfrecords(tmp_path):
    from keras_electra.builders import build_pretrainer

    config = tiny_config()

    def values(uid, n):  # valid ids for the tiny vocabulary: [CLS] w... [SEP] [PAD]
        rng = np.random.default_rng(uid)
        length = n - uid % 4
        ids = np.zeros(n, np.int64)
        ids[:length] = rng.integers(5, config.vocab_size, length)
        ids[0], ids[length - 1] = 2, 3
        return {"input_ids": ids, "input_mask": (np.arange(n) < length).astype(np.int64),
                "segment_ids": np.zeros(n, np.int64)}

    files = [write_records(tmp_path / f"t{i}.tfrecord.gz", range(16 * i, 16 * i + 16),
                           length=config.max_seq_length, compression="GZIP", values=values)
             for i in range(2)]
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer="adam")
    before = [w.numpy().copy() for w in pretrainer.trainable_weights]
    history = pretrainer.fit(
        pretraining_dataset(files, config.max_seq_length, config.train_batch_size),
        steps_per_epoch=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and history.history["loss"][0] > 0
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, pretrainer.trainable_weights))
    assert int(pretrainer.optimizer.iterations) == 3

    # A corrupted record met inside `fit` becomes an error naming its file.
    bad = write_records(tmp_path / "bad.tfrecord", range(64), length=config.max_seq_length,
                        values=values)
    _damage(bad, "flip")
    with pytest.raises(ValueError, match=r"bad.tfrecord: corrupted or truncated TFRecord"):
        with explain_tfrecord_errors(bad, config.max_seq_length):
            pretrainer.fit(pretraining_dataset(bad, config.max_seq_length, 4),
                           steps_per_epoch=20, epochs=1, verbose=0)


_MIRRORED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    from keras_electra.data import pretraining_dataset
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    contexts = []
    def dataset_fn(context):
        contexts.append((context.num_input_pipelines, context.num_replicas_in_sync))
        return pretraining_dataset(sys.argv[1], 8, batch_size=8, is_training=False,
                                   input_context=context)
    dist = strategy.distribute_datasets_from_function(dataset_fn)
    replicas = [[], []]
    for batch in dist:
        rows = strategy.run(lambda b: tf.shape(b["input_ids"])[0], args=(batch,))
        for r, (ids, n) in enumerate(zip(strategy.experimental_local_results(batch["input_ids"]),
                                         strategy.experimental_local_results(rows))):
            assert ids.shape == (4, 8) and int(n) == 4, (ids.shape, n)
            replicas[r].extend(int(u) for u in ids[:, 0].numpy() // 100)
    print(json.dumps({"replicas": replicas, "contexts": contexts,
                      "devices": strategy.num_replicas_in_sync}))
""")


def test_distribute_datasets_from_function_on_two_cpu_replicas(tmp_path):
    # Logical devices must be set before TF initialises them: a fresh process,
    # so this never touches the devices of the test process (or its xdist worker).
    for i in range(2):
        write_records(tmp_path / f"d{i}.tfrecord", range(100 * i, 100 * i + 16))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run([sys.executable, "-c", _MIRRORED, str(tmp_path / "d*.tfrecord")],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2 and out["contexts"] == [[1, 2]]
    replica0, replica1 = out["replicas"]
    assert len(replica0) == len(replica1) == 16  # 32 records, per-replica batches of 4
    assert not set(replica0) & set(replica1)
    assert sorted(replica0 + replica1) == list(range(16)) + list(range(100, 116))
