"""Stripe's form encoding, read into one nested structure (SPEC section 11).

Stripe's SDKs send every request body as application/x-www-form-urlencoded, nesting with brackets:
`flow_data[type]=subscription_cancel`, `items[0][price]=price_1`, and lists as `expand[0]=a` or
`expand[]=a`. `decode` gives the structure JSON would: dicts, lists and strings (a form has no
other types: the endpoint's model reads "true" or "5" as what it expects).

Every malformed key is refused with the parameter named, never guessed at: a key with unbalanced
brackets, a name given twice, one name used both as a value and as a holder of others, and list
indexes that leave a gap. Indexes are collected first and checked at the end, so `items[1]` may
come before `items[0]`, and a huge index costs nothing but its refusal."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

# A name, then any number of [part]s; a part is empty (the next item of a list) or has no brackets.
KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
PART = re.compile(r"\[([^\[\]]*)\]")
# Far more than the merchant API's 4 MB body holds of any real request; a bound on the work of one.
MAX_FIELDS = 100_000
MAX_INDEX_DIGITS = len(str(MAX_FIELDS))
# As deep as JSON bodies may nest (backend.guards.MAX_DEPTH).
MAX_DEPTH = 32


class FormError(ValueError):
    """A form that cannot be read; `param` names the key at fault."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


class _Indexed(dict[int, Any]):
    """A list while it is read: items by index, checked for gaps once the whole form is read."""


def _path(key: str) -> list[str]:
    match = KEY.fullmatch(key)
    if match is None:
        raise FormError(key, f"The parameter name {key!r} is not valid: use name, name[key] or name[0].")
    parts = [match.group(1), *PART.findall(match.group(2))]
    if len(parts) > MAX_DEPTH:
        raise FormError(key, f"{key}: nested deeper than {MAX_DEPTH} levels.")
    return parts


def _step(holder: dict[Any, Any], part: str, key: str) -> Any:
    """The key of `part` in `holder`: a list index in a list (made for a part of digits or []), a name elsewhere."""
    if not isinstance(holder, _Indexed):
        return part
    if part == "":
        return len(holder)
    if len(part) > MAX_INDEX_DIGITS:
        raise FormError(key, f"{key}: a list's items are numbered 0, 1, 2, ..., fewer than {MAX_FIELDS}.")
    return int(part)


def _container(part: str) -> dict[Any, Any]:
    """What the next part of a key makes of a name seen for the first time: a list for [] or [0], else a dict."""
    return _Indexed() if part == "" or part.isdigit() else {}


def _finished(value: Any, param: str) -> Any:
    if isinstance(value, _Indexed):
        if sorted(value) != list(range(len(value))):
            raise FormError(param, f"{param}: the list's items must be numbered 0, 1, 2, ... without gaps.")
        return [_finished(value[index], f"{param}[{index}]") for index in range(len(value))]
    if isinstance(value, dict):
        return {name: _finished(item, f"{param}[{name}]" if param else name) for name, item in value.items()}
    return value


def decode(body: str) -> dict[str, Any]:
    """The form's fields as one nested dict of dicts, lists and strings; raises FormError."""
    try:
        fields = parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise FormError("", f"The form has more than {MAX_FIELDS} fields.") from None
    root: dict[Any, Any] = {}
    for key, value in fields:
        parts = _path(key)
        holder = root
        for here, after in zip(parts, parts[1:] + [None], strict=True):
            step = _step(holder, here, key)
            if after is None:
                if step in holder:
                    raise FormError(key, f"{key} is given twice.")
                holder[step] = value
                break
            found = holder.setdefault(step, _container(after))
            if not isinstance(found, dict) or isinstance(found, _Indexed) != isinstance(_container(after), _Indexed):
                raise FormError(key, f"{key} does not fit the other parameters given under the same name.")
            holder = found
    result: dict[str, Any] = _finished(root, "")
    return result
