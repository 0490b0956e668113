"""TF Serving requests in, SavedModel signature call, TF Serving responses out.

Checks an exported model exactly as TF Serving would feed it, without the model
server binary: a REST Predict body (row `instances` or columnar `inputs`) or a gRPC
`PredictRequest` becomes the keyword tensors of `loaded.signatures[name]`, and the
signature's output dict becomes the REST `predictions`/`outputs` JSON or a
`PredictResponse`. Inputs are typed from the signature, so a request TF Serving would
reject (missing or unknown input, wrong dtype or rank) is a one-line `ValueError` here.

Example (runnable):

```python
import tensorflow as tf
from keras_electra.export import client

class Upper(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def upper(self, text):
        return {"upper": tf.strings.upper(text, encoding="utf-8")}

module = Upper()
tf.saved_model.save(module, "/tmp/upper/1", signatures={"serving_default": module.upper})
loaded = tf.saved_model.load("/tmp/upper/1")
client.predict_rest(loaded, {"instances": ["héllo", {"b64": "d29ybGQ="}]})
# -> {"predictions": ["HÉLLO", "WORLD"]}
request = client.make_predict_request("upper", "serving_default", {"text": ["a"]})
tf.make_ndarray(client.predict_grpc(loaded, request).outputs["upper"])  # -> [b"A"]
```

The same requests against a real server (the export's parent directory holds the
numbered versions, e.g. `/tmp/upper/1`; models whose graph tokenizes need
TF Text ops, which stock `tensorflow/serving` images link):

```sh
docker run -p 8500:8500 -p 8501:8501 -e MODEL_NAME=upper \\
    --mount type=bind,source=/tmp/upper,target=/models/upper -t tensorflow/serving
curl -d '{"instances": ["héllo"]}' http://localhost:8501/v1/models/upper:predict
```

```python
import grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc
stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel("localhost:8500"))
response = stub.Predict(client.make_predict_request("upper", "serving_default", {"text": ["a"]}), 10.0)
```
"""

import base64
import binascii

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

DEFAULT_SIGNATURE = "serving_default"  # what TF Serving uses when a request names none


# ----------------------------------------------------------------------------- signatures

def get_signature(loaded, signature_name=None):
    """`loaded.signatures[signature_name or "serving_default"]`; unknown names are listed.

    Example:
    >>> get_signature(loaded, "nope")
    ValueError: unknown signature_name 'nope'; the model has ['pair', 'serving_default']
    """
    name = signature_name or DEFAULT_SIGNATURE
    if name not in loaded.signatures:
        raise ValueError(f"unknown signature_name {name!r}; the model has {sorted(loaded.signatures)}")
    return loaded.signatures[name]


def _input_specs(signature):
    # Loaded signatures take keyword arguments only: (args=(), kwargs={name: TensorSpec}).
    return signature.structured_input_signature[1]


def _check_names(given, specs):
    expected = sorted(specs)
    for name in sorted(given):
        if name not in specs:
            raise ValueError(f"unknown input {name!r}; the signature takes {expected}")
    for name in expected:
        if name not in given:
            raise ValueError(f"missing input {name!r}; the signature takes {expected}")


def _check_shape(name, shape, spec):
    if not spec.shape.is_compatible_with(shape):
        raise ValueError(f"input {name!r} expects shape {spec.shape}, got {tuple(shape)}")


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ----------------------------------------------------------------------------- REST

def _is_b64(value):
    return isinstance(value, dict) and set(value) == {"b64"}


def _leaf_converter(name, dtype):
    """A function checking one JSON scalar against `dtype` and returning its numpy value."""
    if dtype == tf.string:
        def convert(value):
            if isinstance(value, str):
                return value.encode("utf-8")
            if _is_b64(value) and isinstance(value["b64"], str):
                try:
                    return base64.b64decode(value["b64"], validate=True)
                except binascii.Error:
                    raise ValueError(f"input {name!r}: invalid base64 in {_short(value)}") from None
            raise ValueError(f"input {name!r} expects tf.string values (a JSON string or "
                             f'{{"b64": ...}}), got {_short(value)}')
    elif dtype == tf.bool:
        def convert(value):
            if isinstance(value, bool):
                return value
            raise ValueError(f"input {name!r} expects bool values (true/false), got {_short(value)}")
    elif dtype.is_integer:
        def convert(value):
            # bool is an int subclass in Python, but TF Serving does not read true as 1.
            if isinstance(value, int) and not isinstance(value, bool):
                if not dtype.min <= value <= dtype.max:
                    raise ValueError(f"input {name!r}: {value} is out of range for {dtype.name}")
                return value
            raise ValueError(f"input {name!r} expects {dtype.name} values (JSON integers), "
                             f"got {_short(value)}")
    elif dtype.is_floating:
        def convert(value):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
            raise ValueError(f"input {name!r} expects {dtype.name} values (JSON numbers), "
                             f"got {_short(value)}")
    else:
        raise ValueError(f"input {name!r} has dtype {dtype.name}, which JSON requests cannot carry")
    return convert


def _flatten(value, convert, name):
    """(shape, leaves) of a nested JSON list; ragged nesting is an error, not an object array."""
    if not isinstance(value, list):
        return (), [convert(value)]
    if not value:
        return (0,), []
    parts = [_flatten(item, convert, name) for item in value]
    shape = parts[0][0]
    if any(part[0] != shape for part in parts):
        raise ValueError(f"input {name!r}: ragged nested lists (rows of different shapes "
                         f"{sorted({part[0] for part in parts})})")
    return (len(value),) + shape, [leaf for part in parts for leaf in part[1]]


def _json_to_tensor(name, value, spec):
    shape, leaves = _flatten(value, _leaf_converter(name, spec.dtype), name)
    _check_shape(name, shape, spec)
    np_dtype = object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype
    return tf.constant(np.array(leaves, dtype=np_dtype).reshape(shape), dtype=spec.dtype)


def _request_format(body):
    if not isinstance(body, dict):
        raise ValueError(f"the request body must be a JSON object, got {type(body).__name__}")
    if ("instances" in body) == ("inputs" in body):
        raise ValueError("the request body must have exactly one of 'instances' (row format) "
                         "or 'inputs' (columnar format)")
    return "instances" if "instances" in body else "inputs"


def rest_request_to_inputs(body, signature):
    """Turns a TF Serving REST Predict body into keyword tensors for `signature`.

    Args:
        body: the parsed JSON body. Row format `{"instances": [...]}`: each instance is a
            dict of named inputs, or a bare value when the signature has one input; the
            instances are stacked along a new batch axis. Columnar format
            `{"inputs": ...}`: a dict of named inputs (each with its batch axis), or a bare
            value for a one-input signature. Strings may be sent as `{"b64": "..."}`.
        signature: a concrete function from `loaded.signatures[name]`.

    Returns:
        A dict `name -> tf.Tensor` of the dtypes the signature declares.

    Example:
    >>> rest_request_to_inputs({"instances": [{"a": [1, 2], "b": 0.5}]}, loaded.signatures["pair"])
    {'a': <tf.Tensor: shape=(1, 2), dtype=int32, ...>, 'b': <tf.Tensor: shape=(1,), dtype=float32, ...>}
    """
    specs = _input_specs(signature)
    key = _request_format(body)
    if key == "instances":
        values = _stack_instances(body["instances"], specs)
    else:
        inputs = body["inputs"]
        named = isinstance(inputs, dict) and not _is_b64(inputs)
        values = inputs if named else _single_input(specs, inputs)
    _check_names(values, specs)
    return {name: _json_to_tensor(name, values[name], specs[name]) for name in sorted(specs)}


def _single_input(specs, value):
    if len(specs) != 1:
        raise ValueError(f"the signature takes inputs {sorted(specs)}: name them in a JSON object, "
                         f"got {_short(value)}")
    return {next(iter(specs)): value}


def _stack_instances(instances, specs):
    """Row format -> columnar: {name: [value of each instance]}, with every instance alike."""
    if not isinstance(instances, list):
        raise ValueError(f"'instances' must be a JSON list, got {_short(instances)}")
    if not instances:
        raise ValueError("'instances' is empty: send at least one instance")
    named = [isinstance(x, dict) and not _is_b64(x) for x in instances]
    if not any(named):  # bare values, one per instance
        return _single_input(specs, instances)
    first = sorted(instances[0]) if named[0] else None
    for i, instance in enumerate(instances):
        keys = sorted(instance) if named[i] else None
        if keys != first:
            raise ValueError(f"instance {i} has inputs {keys} but instance 0 has {first}; "
                             f"every instance must name the same inputs")
    return {name: [instance[name] for instance in instances] for name in first}


def _to_json(name, value):
    """A numpy value as JSON: Python numbers, UTF-8 strings (`*_bytes` outputs as b64)."""
    array = np.asarray(value)
    if array.dtype != object and array.dtype.kind != "S":
        return array.tolist()
    # TF Serving's rule: a string output whose alias ends in "_bytes" is binary, sent as
    # {"b64": ...}; any other string output is written as text.
    if name.endswith("_bytes"):
        convert = lambda b: {"b64": base64.b64encode(b).decode("ascii")}  # noqa: E731
    else:
        def convert(b):
            try:
                return b.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"output {name!r} is not valid UTF-8; name it with a '_bytes' "
                                 f"suffix to get base64, as TF Serving requires") from None
    return np.vectorize(convert, otypes=[object])(array).tolist() if array.ndim else convert(array.item())


def outputs_to_rest_response(outputs, body):
    """Turns a signature's output dict into the TF Serving REST Predict response.

    Row format (`body` has "instances"): `{"predictions": [...]}` with one entry per
    instance: a dict of outputs, or the bare value when there is a single output. Every
    output must then share the batch size, as TF Serving requires. Columnar format:
    `{"outputs": {name: value}}`, or `{"outputs": value}` for a single output.

    Example:
    >>> outputs_to_rest_response({"length": tf.constant([5])}, {"instances": ["hello"]})
    {'predictions': [5]}
    """
    values = {name: _to_json(name, np.asarray(outputs[name])) for name in sorted(outputs)}
    single = len(values) == 1
    if _request_format(body) == "inputs":
        return {"outputs": next(iter(values.values())) if single else values}
    sizes = {name: len(v) if isinstance(v, list) else None for name, v in values.items()}
    if len(set(sizes.values())) != 1 or None in sizes.values():
        raise ValueError(f"row format needs every output to share the batch size, got {sizes}; "
                         f"send the request in columnar format ('inputs') instead")
    if single:
        return {"predictions": next(iter(values.values()))}
    rows = zip(*values.values())
    return {"predictions": [dict(zip(values, row)) for row in rows]}


def predict_rest(loaded, body):
    """What TF Serving's `POST /v1/models/NAME:predict` returns for `body`, run on `loaded`.

    Example:
    >>> predict_rest(loaded, {"signature_name": "pair", "inputs": {"a": [[1, 2]], "b": [0.5]}})
    {'outputs': [1.5]}
    """
    signature = get_signature(loaded, body.get("signature_name") if isinstance(body, dict) else None)
    return outputs_to_rest_response(signature(**rest_request_to_inputs(body, signature)), body)


# ----------------------------------------------------------------------------- gRPC

def make_predict_request(model_name, signature_name, inputs):
    """A `PredictRequest` for `inputs` (`name -> numpy array or nested Python values`).

    What a user's gRPC client builds. Python ints become int32, floats float32 and str
    UTF-8 `tf.string` (`tf.make_tensor_proto`'s defaults); pass numpy arrays to choose
    another dtype.

    Example:
    >>> request = make_predict_request("electra", "pair", {"a": np.array([[1, 2]], np.int32), "b": [0.5]})
    >>> request.model_spec.signature_name
    'pair'
    """
    if not inputs:
        raise ValueError("make_predict_request needs at least one input")
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name or ""
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def predict_request_to_inputs(request, signature):
    """Keyword tensors for `signature` from a `PredictRequest`; dtypes must match exactly.

    (TF Serving does not cast: an int64 tensor for an int32 input is refused.)

    Example:
    >>> request = make_predict_request("m", "", {"text": ["hi"]})
    >>> predict_request_to_inputs(request, loaded.signatures["serving_default"])
    {'text': <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'hi'], dtype=object)>}
    """
    specs = _input_specs(signature)
    _check_names(request.inputs, specs)
    inputs = {}
    for name in sorted(specs):
        proto, spec = request.inputs[name], specs[name]
        if proto.dtype != spec.dtype.as_datatype_enum:
            raise ValueError(f"input {name!r} expects {spec.dtype.name}, got "
                             f"{tf.dtypes.as_dtype(proto.dtype).name}")
        array = tf.make_ndarray(proto)
        _check_shape(name, array.shape, spec)
        inputs[name] = tf.constant(array, dtype=spec.dtype)
    return inputs


def outputs_to_predict_response(outputs, request):
    """A `PredictResponse` holding `outputs` (filtered by `request.output_filter`, if set).

    The model spec is copied from the request, with the signature name filled in
    (`serving_default` when the request left it empty), as TF Serving does.

    Example:
    >>> response = outputs_to_predict_response({"length": tf.constant([2])}, request)
    >>> tf.make_ndarray(response.outputs["length"])
    array([2], dtype=int32)
    """
    names = list(request.output_filter) or sorted(outputs)
    for name in names:
        if name not in outputs:
            raise ValueError(f"output_filter names unknown output {name!r}; "
                             f"the signature has {sorted(outputs)}")
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    response.model_spec.signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
    for name in names:
        tensor = tf.convert_to_tensor(outputs[name])
        response.outputs[name].CopyFrom(tf.make_tensor_proto(tensor.numpy(), dtype=tensor.dtype))
    return response


def predict_grpc(loaded, request):
    """What TF Serving's `PredictionService.Predict` returns for `request`, run on `loaded`.

    Example:
    >>> response = predict_grpc(loaded, make_predict_request("m", "", {"text": ["héllo"]}))
    >>> tf.make_ndarray(response.outputs["upper"])[0].decode()
    'HÉLLO'
    """
    signature = get_signature(loaded, request.model_spec.signature_name)
    return outputs_to_predict_response(signature(**predict_request_to_inputs(request, signature)),
                                       request)
