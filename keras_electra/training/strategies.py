"""One name picks the `tf.distribute` strategy; datasets are distributed one way.

    strategy = make_strategy("mirrored", cpu_replicas=2)   # 2 logical CPUs
    strategy = make_strategy("mirrored", num_gpus=8)
    strategy = make_strategy("multi_worker")                # reads TF_CONFIG
    strategy = make_strategy("tpu", tpu="my-tpu")           # or "local" on a TPU VM

* `one_device`: TensorFlow's default strategy (no replication): ops go to
  the first GPU when there is one, else the CPU. It is the strategy Keras
  uses without a scope, and the only one whose `fit` iterator is a plain
  `tf.data.Iterator`, so the data position checkpoints cheaply.
* `mirrored`: synchronous replicas on one machine, over `num_gpus` GPUs (all
  visible ones by default) or, with `cpu_replicas=N`, N logical CPU devices
  split from the host CPU (how mirrored training is tested without GPUs).
* `multi_worker`: `MultiWorkerMirroredStrategy` from `TF_CONFIG`.
* `tpu`: `TPUClusterResolver` -> connect -> initialise -> `TPUStrategy`.

`cpu_replicas` must be set before TensorFlow initialises its devices: call
`make_strategy` first thing in a process (the CLI does).
"""

import tensorflow as tf
from absl import logging

STRATEGIES = ("one_device", "mirrored", "multi_worker", "tpu")


def split_cpu(num_devices):
    """Splits the host CPU into `num_devices` logical devices `/cpu:0..N-1`."""
    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0])
    if current is not None and len(current) == num_devices:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)])
    except RuntimeError as error:
        raise ValueError(
            f"cpu_replicas={num_devices}: TensorFlow's devices are already initialised in "
            f"this process ({error}); choose the strategy before any TensorFlow op runs.") \
            from None


def make_strategy(name="one_device", tpu=None, num_gpus=None, cpu_replicas=None):
    """The `tf.distribute.Strategy` called `name` (see the module docstring).

    Args:
        name: one of `STRATEGIES`.
        tpu: TPU name or gRPC address for `name="tpu"`; `None` or `"local"`
            for the TPU attached to this VM.
        num_gpus: GPUs for `mirrored` (default: all visible).
        cpu_replicas: logical CPU devices for `mirrored` when no GPU is used.

    Example:

    >>> strategy = make_strategy("one_device")
    >>> strategy.num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {list(STRATEGIES)}, got {name!r}.")
    if cpu_replicas is not None and cpu_replicas < 1:
        raise ValueError(f"--cpu_replicas must be at least 1, got {cpu_replicas}.")
    if cpu_replicas and name != "mirrored":
        raise ValueError(f"--cpu_replicas applies to --strategy=mirrored, not {name!r}.")
    if cpu_replicas and num_gpus:
        raise ValueError("--cpu_replicas and --num_gpus are exclusive: replicate over "
                         "logical CPUs or over GPUs.")
    if tpu and name != "tpu":
        raise ValueError(f"--tpu={tpu!r} needs --strategy=tpu, not {name!r}.")

    if name == "one_device":
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        return _tpu_strategy(tpu)
    if cpu_replicas:
        split_cpu(cpu_replicas)
        devices = [f"/cpu:{i}" for i in range(cpu_replicas)]
    else:
        gpus = tf.config.list_logical_devices("GPU")
        if num_gpus is not None and num_gpus > len(gpus):
            raise ValueError(f"--num_gpus={num_gpus} but only {len(gpus)} GPU(s) are visible.")
        devices = [gpu.name for gpu in gpus[:num_gpus]] or ["/cpu:0"]
    logging.info("MirroredStrategy over %s", devices)
    return tf.distribute.MirroredStrategy(devices)


def _tpu_strategy(tpu):
    # "local" is the TPU of a Cloud TPU VM; a name or grpc:// address is a TPU node.
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "local")
    if (tpu or "local") != "local":
        tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy):
    """Whether this process writes the shared outputs (logs, final weights).

    One process outside multi-worker training; under it, the `chief` task,
    or worker 0 when the cluster has no chief (Keras' and TF's convention).
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def worker_index(strategy):
    """This process's task index (0 outside multi-worker training)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0)


def distribute_dataset(strategy, dataset_fn):
    """`strategy.distribute_datasets_from_function(dataset_fn)`, checkpointable where possible.

    `dataset_fn(input_context)` returns per-replica batches (see
    `InputContext.get_per_replica_batch_size`). Under `MirroredStrategy` it
    is called once per replica (`PER_REPLICA` mode) and batches stay on the
    host until the step uses them: each replica then reads through a plain
    `tf.data` iterator, whose position `tf.train.Checkpoint` can save, which
    the default mode's multi-device iterator cannot. Under the default
    strategy the function's dataset is used as is.
    """
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        options = tf.distribute.InputOptions(
            experimental_replication_mode=tf.distribute.InputReplicationMode.PER_REPLICA,
            experimental_fetch_to_device=False)
        return strategy.distribute_datasets_from_function(dataset_fn, options)
    return strategy.distribute_datasets_from_function(dataset_fn)


def checkpointable_pipelines(strategy):
    """How many `tf.data` iterators of `distribute_dataset`'s output a checkpoint can hold.

    The default strategy reads through one plain iterator, `MirroredStrategy`
    through one per replica; other strategies' iterators cannot be saved (0).
    """
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return strategy.num_replicas_in_sync
    if not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy():
        return 1
    return 0
