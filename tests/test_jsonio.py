"""JSON through orjson, with Python's json where orjson refuses what an import may hold."""

import math

import pytest

from backend import jsonio


def test_stored_objects_with_nan_still_load():
    # Python's json, which reads import files, accepts NaN; orjson alone would refuse the stored text.
    assert math.isnan(jsonio.loads('{"amount": NaN}')["amount"])


def test_integers_beyond_64_bits_are_written_exactly():
    assert jsonio.dumps({"amount": 2**70}) == b'{"amount":1180591620717411303424}'


def test_answers_are_compact_utf8():
    assert jsonio.dumps({"name": "Jürgen", "n": [1, 2]}) == '{"name":"Jürgen","n":[1,2]}'.encode()


def test_the_response_renders_with_the_same_rules():
    assert jsonio.JSONResponse({"amount": 2**70}).body == b'{"amount":1180591620717411303424}'


def test_a_clients_json_may_nest_up_to_the_bound_and_no_deeper():
    assert jsonio.from_client(b'{"a": {"b": [1]}}', 3) == {"a": {"b": [1]}}
    with pytest.raises(jsonio.TooDeep):
        jsonio.from_client(b'{"a": {"b": [1]}}', 2)
    with pytest.raises(jsonio.TooDeep):
        jsonio.from_client(b"[" * 33 + b"]" * 33, 32)


@pytest.mark.parametrize("body", [b"[" * 8000, b'{"a":' * 3000, b"NaN", b'"\\ud800"', b"", b"{"])
def test_a_clients_json_that_is_not_strict_json_is_a_value_error(body):
    with pytest.raises(ValueError):
        jsonio.from_client(body, 32)
