"""One worker of the 2-process `MultiWorkerMirroredStrategy` test (not a test itself).

    python tests/training/multi_worker_main.py INDEX PORT0,PORT1 OUT_DIR
    python tests/training/multi_worker_main.py single - OUT_DIR   # the 1-process reference

Each worker's input pipeline keeps examples `i, i + 2, ...` of the same
stream, so a step's two per-worker batches of 4 hold exactly the examples of
the single process's batch of 8 (global batch 8 in both).
"""

import json
import os
import sys

index, ports, out_dir = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
if index != "single":
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
        "task": {"type": "worker", "index": int(index)},
    })
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_electra.builders import build_pretrainer  # noqa: E402
from keras_electra.training.optimizer import create_optimizer  # noqa: E402
from tests.test_case import tiny_batch, tiny_config  # noqa: E402

strategy = (tf.distribute.get_strategy() if index == "single"
            else tf.distribute.MultiWorkerMirroredStrategy())
config = tiny_config(dropout=0.0)
keras.utils.set_random_seed(0)
with strategy.scope():
    pretrainer = build_pretrainer(config)
    pretrainer.compile(optimizer=create_optimizer(config, num_train_steps=100))
batches = [tiny_batch(seed=i) for i in range(4)]
data = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def dataset_fn(context):
    dataset = tf.data.Dataset.from_tensor_slices(data).repeat()
    dataset = dataset.shard(context.num_input_pipelines, context.input_pipeline_id)
    return dataset.batch(context.get_per_replica_batch_size(8), drop_remainder=True)


dataset = strategy.distribute_datasets_from_function(dataset_fn)
if index == "single":
    dataset = dataset_fn(tf.distribute.InputContext())
history = pretrainer.fit(dataset, steps_per_epoch=3, epochs=2, verbose=0)
evaluation = pretrainer.evaluate(dataset, steps=2, verbose=0, return_dict=True)
np.savez(os.path.join(out_dir, f"worker{index}.npz"),
         *[v.numpy() for v in pretrainer.trainable_variables])
with open(os.path.join(out_dir, f"worker{index}.json"), "w") as f:
    json.dump({"history": history.history, "evaluate": evaluation,
               "steps": int(pretrainer.optimizer.iterations.numpy())}, f)
