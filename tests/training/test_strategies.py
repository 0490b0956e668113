"""`make_strategy`: names, flags that go together, and the one-device default."""

import pytest
import tensorflow as tf

from keras_electra.training.strategies import (
    checkpointable_pipelines, is_chief, make_strategy, worker_index)


def test_one_device_is_the_default_strategy():
    strategy = make_strategy("one_device")
    assert strategy is tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1
    assert is_chief(strategy) and worker_index(strategy) == 0
    assert checkpointable_pipelines(strategy) == 1


def test_mirrored_without_gpus_falls_back_to_the_cpu():
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 1
    assert checkpointable_pipelines(strategy) == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="horovod"), r"--strategy must be one of \['one_device', 'mirrored', "
                           r"'multi_worker', 'tpu'\], got 'horovod'"),
    (dict(name="one_device", cpu_replicas=2), r"--cpu_replicas applies to --strategy=mirrored"),
    (dict(name="mirrored", cpu_replicas=0), r"--cpu_replicas must be at least 1"),
    (dict(name="mirrored", cpu_replicas=2, num_gpus=2), r"exclusive"),
    (dict(name="mirrored", tpu="my-tpu"), r"--tpu='my-tpu' needs --strategy=tpu"),
    (dict(name="mirrored", num_gpus=4), r"--num_gpus=4 but only 0 GPU\(s\) are visible"),
])
def test_bad_combinations_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_strategy(**kwargs)


def test_cpu_replicas_after_initialisation_names_the_flag():
    tf.constant(1)  # devices are initialised by now in this process (1 logical CPU)
    with pytest.raises(ValueError, match=r"^cpu_replicas=3: TensorFlow's devices are "
                                         r"already initialised"):
        make_strategy("mirrored", cpu_replicas=3)
