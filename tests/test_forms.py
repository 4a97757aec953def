"""Stripe's form encoding read back into the structure it was made from: every case is encoded by
Stripe's own SDK (stripe._encode._api_encode, as its requestor sends it), then decoded by Porch."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from stripe._encode import _api_encode

from backend.forms import MAX_DEPTH, MAX_FIELDS, FormError, decode


def sdk_encoded(params: dict) -> str:
    """What Stripe's SDK puts in a request body, brackets left unescaped as its requestor leaves them."""
    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


def test_a_portal_session_with_a_flow_round_trips():
    params = {
        "customer": "cus_jenny",
        "return_url": "https://app.example/account?tab=billing&x=1",
        "flow_data": {
            "type": "subscription_update_confirm",
            "after_completion": {"type": "redirect", "redirect": {"return_url": "https://app.example/done"}},
            "subscription_update_confirm": {
                "subscription": "sub_1",
                "items": [{"id": "si_1", "price": "price_pro", "quantity": "2"}, {"id": "si_2", "price": "price_b"}],
                "discounts": [{"coupon": "SAVE10"}],
            },
        },
        "expand": ["flow", "configuration"],
    }
    assert decode(sdk_encoded(params)) == params


def test_values_come_back_as_text_the_way_the_sdk_writes_them():
    encoded = sdk_encoded({"quantity": 3, "cancel_at_period_end": True, "empty": "", "unicode": "Zürich €"})
    assert decode(encoded) == {"quantity": "3", "cancel_at_period_end": "true", "empty": "", "unicode": "Zürich €"}


def test_brackets_escaped_or_not_read_the_same():
    escaped = urlencode(list(_api_encode({"flow_data": {"type": "payment_method_update"}})))
    assert "%5B" in escaped
    assert decode(escaped) == decode(sdk_encoded({"flow_data": {"type": "payment_method_update"}}))


def test_lists_of_lists_and_objects_in_lists_round_trip():
    params = {"rows": [["a", "b"], ["c"]], "objects": [{"deep": {"deeper": ["x"]}}]}
    assert decode(sdk_encoded(params)) == params


def test_empty_brackets_append_and_indexes_may_come_in_any_order():
    assert decode("expand[]=a&expand[]=b") == {"expand": ["a", "b"]}
    assert decode("items[1][price]=b&items[0][price]=a&items[1][quantity]=2") == {
        "items": [{"price": "a"}, {"price": "b", "quantity": "2"}]}


def test_an_empty_form_is_no_parameters():
    assert decode("") == {}


@pytest.mark.parametrize("body, param, says", [
    ("customer=a&customer=b", "customer", "given twice"),
    ("flow_data=x&flow_data[type]=y", "flow_data[type]", "does not fit"),
    ("items[0]=a&items[x]=b", "items[x]", "does not fit"),
    ("items[0][price]=a&items[price]=b", "items[price]", "does not fit"),
    ("flow_data[type]=a&flow_data[]=b", "flow_data[]", "does not fit"),
    ("items[1][price]=a", "items", "without gaps"),
    ("items[9999999]=a", "items[9999999]", "numbered"),
    ("flow_data[type=a", "flow_data[type", "not valid"),
    ("[type]=a", "[type]", "not valid"),
    ("a]=1", "a]", "not valid"),
    ("a" + "[b]" * MAX_DEPTH + "=1", "a" + "[b]" * MAX_DEPTH, "deeper"),
])
def test_a_malformed_key_is_refused_naming_it(body, param, says):
    with pytest.raises(FormError) as refused:
        decode(body)
    assert refused.value.param == param
    assert says in str(refused.value)


def test_a_form_of_too_many_fields_is_refused():
    with pytest.raises(FormError, match="more than"):
        decode("&".join(f"a{n}=1" for n in range(MAX_FIELDS + 1)))
