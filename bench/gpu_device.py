"""What GPU a benchmark ran on, and its datasheet peak: shared by `bench/gpu_throughput.py`
(TensorFlow) and `bench/gpu_keras_jax.py` (Keras 3 + JAX). No framework imports.

>>> datasheet_peak("NVIDIA H200, 143771 MiB, 580.159.04")[0]
989.4
>>> datasheet_peak("CPU")
(None, None)
"""

import subprocess

# Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's datasheets, TFLOP/s;
# matched on the device name, first match wins.
DATASHEET_BF16_TFLOPS = (
    ("H100 PCIe", 756.0, "NVIDIA H100 PCIe datasheet, dense bf16"),
    ("H100 NVL", 835.0, "NVIDIA H100 NVL datasheet, dense bf16"),
    ("H100", 989.4, "NVIDIA H100 SXM5 datasheet, dense bf16"),
    ("H200", 989.4, "NVIDIA H200 SXM datasheet, dense bf16 (same tensor cores as H100 SXM)"),
    ("A100", 312.0, "NVIDIA A100 datasheet, dense bf16"),
    ("L40S", 362.1, "NVIDIA L40S datasheet, dense bf16"),
    ("L4", 121.0, "NVIDIA L4 datasheet, dense bf16"),
)


def nvidia_smi():
    """`name, memory, driver, max SM clock` of the first GPU, or None without nvidia-smi."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm",
             "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def datasheet_peak(name):
    """`(TFLOP/s, source)` of the first table entry whose key is in `name`, else `(None, None)`."""
    for key, tflops, source in DATASHEET_BF16_TFLOPS:
        if key in name:
            return tflops, source
    return None, None
