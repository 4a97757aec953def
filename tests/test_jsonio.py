"""JSON through orjson, with Python's json where orjson refuses what an import may hold."""

import math

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
