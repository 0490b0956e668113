"""`keras_electra.<module>` without running the package `__init__`s that import TensorFlow.

`keras_electra/__init__.py`, `keras_electra/models/__init__.py` and
`keras_electra/data/__init__.py` import the TensorFlow parts of the package
(the pretrainer, the `tf.data` pipelines). Two benchmarks need modules that
use neither: the PyTorch side of `bench/pretrain_step.py` reads `config` and
`flops` in a process whose peak RSS is the measurement, and
`bench/gpu_keras_jax.py` builds the Keras towers (`builders`, `layers`,
`models.electra_backbone`) on the JAX backend, on a machine without
TensorFlow. An empty module with the package's `__path__` stands in for each
package not imported yet; submodule imports then work as usual.

>>> config = light_import("config")
>>> config.ElectraConfig(vocab_size=64).vocab_size
64
"""

import importlib
import os
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("keras_electra", "keras_electra.models", "keras_electra.data")


def light_import(module, packages=PACKAGES):
    """Imports `keras_electra.<module>` with `packages` stubbed unless already imported."""
    for package in packages:
        if package not in sys.modules:
            stub = types.ModuleType(package)
            stub.__path__ = [os.path.join(ROOT, *package.split("."))]
            sys.modules[package] = stub
    return importlib.import_module(f"keras_electra.{module}")
