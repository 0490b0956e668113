import base64
import json
import re

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from keras_electra.export import client
from tests.export.servables import LENGTHS, TEXTS, UPPERS, save_tiny_servable

@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    return tf.saved_model.load(save_tiny_servable(tmp_path_factory.mktemp("servable") / "1"))


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _rest(loaded, body):
    # Through JSON text both ways, as the HTTP server sees it.
    response = client.predict_rest(loaded, json.loads(json.dumps(body)))
    assert json.loads(json.dumps(response)) == response
    return response


def test_rest_row_format(loaded):
    expected = [{"length": n, "upper": u} for n, u in zip(LENGTHS, UPPERS)]
    assert _rest(loaded, {"instances": TEXTS}) == {"predictions": expected}
    assert _rest(loaded, {"signature_name": "serving_default",
                          "instances": [{"text": t} for t in TEXTS]}) == {"predictions": expected}
    # b64 strings, bare and named, mixed with plain ones.
    body = {"instances": [{"b64": _b64(TEXTS[0])}, TEXTS[1], {"b64": _b64(TEXTS[2])}]}
    assert _rest(loaded, body) == {"predictions": expected}
    body = {"instances": [{"text": {"b64": _b64(t)}} for t in TEXTS]}
    assert _rest(loaded, body) == {"predictions": expected}


def test_rest_row_format_single_output_is_bare(loaded):
    body = {"signature_name": "pair",
            "instances": [{"a": [1, 2, 3], "b": 0.5}, {"a": [4, 5, 6], "b": -2}]}
    assert _rest(loaded, body) == {"predictions": [3.0, -30.0]}


def test_rest_columnar_format(loaded):
    expected = {"outputs": {"length": LENGTHS, "upper": UPPERS}}
    assert _rest(loaded, {"inputs": {"text": TEXTS}}) == expected
    assert _rest(loaded, {"inputs": TEXTS}) == expected
    assert _rest(loaded, {"inputs": [{"b64": _b64(t)} for t in TEXTS]}) == expected
    body = {"signature_name": "pair", "inputs": {"a": [[1, 2], [3, 4]], "b": [1.5, -1]}}
    assert _rest(loaded, body) == {"outputs": [4.5, -7.0]}


def test_rest_bytes_outputs(loaded):
    # TF Serving's rule: "*_bytes" string outputs go out as b64, the others as text.
    body = {"signature_name": "echo", "inputs": ["ok"]}
    assert _rest(loaded, body) == {"outputs": {"echo": ["ok"], "echo_bytes": [{"b64": _b64("ok")}]}}
    invalid_utf8 = {"signature_name": "echo",
                    "instances": [{"b64": base64.b64encode(b"\xff\x00").decode()}]}
    with pytest.raises(ValueError, match=r"^output 'echo' is not valid UTF-8; name it with a '_bytes'"):
        client.predict_rest(loaded, invalid_utf8)


def test_rest_row_format_needs_one_batch_size():
    outputs = {"ids": tf.constant([[1, 2]]), "count": tf.constant([1, 2])}
    with pytest.raises(ValueError, match=r"^row format needs every output to share the batch size, "
                                         r"got \{'count': 2, 'ids': 1\}; send the request in columnar"):
        client.outputs_to_rest_response(outputs, {"instances": ["x"]})
    assert client.outputs_to_rest_response(outputs, {"inputs": ["x"]}) == {
        "outputs": {"count": [1, 2], "ids": [[1, 2]]}}


def test_rest_inputs_are_typed_from_the_signature(loaded):
    signature = loaded.signatures["pair"]
    inputs = client.rest_request_to_inputs({"instances": [{"a": [1, 2], "b": 3}]}, signature)
    assert inputs["a"].dtype == tf.int32 and inputs["b"].dtype == tf.float32
    np.testing.assert_array_equal(inputs["a"].numpy(), [[1, 2]])
    np.testing.assert_array_equal(inputs["b"].numpy(), [3.0])


@pytest.mark.parametrize("signature_name, body, message", [
    ("pair", {"instances": [{"a": [1]}]}, "missing input 'b'; the signature takes ['a', 'b']"),
    ("pair", {"inputs": {"a": [[1]], "b": [1.0], "c": [2]}},
     "unknown input 'c'; the signature takes ['a', 'b']"),
    ("serving_default", {"instances": [3]},
     'input \'text\' expects tf.string values (a JSON string or {"b64": ...}), got 3'),
    ("pair", {"inputs": {"a": [["1"]], "b": [1.0]}},
     "input 'a' expects int32 values (JSON integers), got '1'"),
    ("pair", {"inputs": {"a": [[1.5]], "b": [1.0]}},
     "input 'a' expects int32 values (JSON integers), got 1.5"),
    ("pair", {"inputs": {"a": [[1]], "b": ["x"]}},
     "input 'b' expects float32 values (JSON numbers), got 'x'"),
    ("pair", {"inputs": {"a": [1], "b": [1.0]}}, "input 'a' expects shape (None, None), got (1,)"),
    ("pair", {"inputs": {"a": [[1], [2, 3]], "b": [1.0]}}, "input 'a': ragged nested lists"),
    ("pair", {"inputs": {"a": [[2**31]], "b": [1.0]}}, "input 'a': 2147483648 is out of range for int32"),
    ("pair", {"instances": [{"a": [1], "b": 1}, {"a": [2]}]},
     "instance 1 has inputs ['a'] but instance 0 has ['a', 'b']; "
     "every instance must name the same inputs"),
    ("pair", {"instances": [[1]]}, "the signature takes inputs ['a', 'b']: name them in a JSON object"),
    ("pair", {"instances": []}, "'instances' is empty: send at least one instance"),
    ("pair", {"instances": [], "inputs": {}}, "the request body must have exactly one of 'instances'"),
    ("serving_default", {"inputs": [{"b64": "not base64!"}]}, "input 'text': invalid base64"),
])
def test_rest_request_errors(loaded, signature_name, body, message):
    with pytest.raises(ValueError) as error:
        client.rest_request_to_inputs(body, loaded.signatures[signature_name])
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_unknown_signature_lists_the_available_ones(loaded):
    message = "unknown signature_name 'nope'; the model has ['echo', 'pair', 'serving_default']"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        client.predict_rest(loaded, {"signature_name": "nope", "instances": ["x"]})
    with pytest.raises(ValueError, match="^unknown signature_name 'nope'"):
        client.predict_grpc(loaded, client.make_predict_request("m", "nope", {"text": ["x"]}))


def _over_the_wire(request):
    return predict_pb2.PredictRequest.FromString(request.SerializeToString())


def test_grpc_round_trip(loaded):
    request = _over_the_wire(client.make_predict_request("electra", "", {"text": TEXTS}))
    response = client.predict_grpc(loaded, request)
    assert response.model_spec.name == "electra"
    assert response.model_spec.signature_name == "serving_default"
    assert sorted(response.outputs) == ["length", "upper"]
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["length"]), LENGTHS)
    assert [s.decode("utf-8") for s in tf.make_ndarray(response.outputs["upper"])] == UPPERS
    # The gRPC and REST paths agree.
    rest = client.predict_rest(loaded, {"inputs": TEXTS})["outputs"]
    assert tf.make_ndarray(response.outputs["length"]).tolist() == rest["length"]

    request = client.make_predict_request(
        "electra", "pair", {"a": np.array([[1, 2], [3, 4]], np.int32), "b": [1.5, -1.0]})
    response = client.predict_grpc(loaded, _over_the_wire(request))
    assert response.model_spec.signature_name == "pair"
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["score"]), np.float32([4.5, -7.0]))


def test_grpc_output_filter(loaded):
    request = client.make_predict_request("electra", "", {"text": ["abc"]})
    request.output_filter.append("upper")
    response = client.predict_grpc(loaded, request)
    assert list(response.outputs) == ["upper"]
    assert tf.make_ndarray(response.outputs["upper"]).tolist() == [b"ABC"]
    request.output_filter.append("nope")
    message = "output_filter names unknown output 'nope'; the signature has ['length', 'upper']"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        client.predict_grpc(loaded, request)


@pytest.mark.parametrize("signature_name, inputs, message", [
    ("pair", {"a": np.int32([[1]])}, "missing input 'b'; the signature takes ['a', 'b']"),
    ("serving_default", {"text": ["x"], "extra": [1]},
     "unknown input 'extra'; the signature takes ['text']"),
    # TF Serving does not cast: int64 (numpy's default) for an int32 input is refused.
    ("pair", {"a": np.array([[1]]), "b": [1.0]}, "input 'a' expects int32, got int64"),
    ("serving_default", {"text": [1]}, "input 'text' expects string, got int32"),
    ("pair", {"a": np.int32([1]), "b": [1.0]}, "input 'a' expects shape (None, None), got (1,)"),
])
def test_grpc_request_errors(loaded, signature_name, inputs, message):
    request = client.make_predict_request("m", signature_name, inputs)
    with pytest.raises(ValueError) as error:
        client.predict_request_to_inputs(request, loaded.signatures[signature_name])
    assert str(error.value) == message
