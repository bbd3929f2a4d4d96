"""Protocol checks answer as before once each protocol's members are remembered (gateway/core/protocols.py)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pytest
import requests.utils
from rq.serializers import JSONSerializer, resolve_serializer

import gateway  # noqa: F401  remembers protocol members on import


@runtime_checkable
class HasItems(Protocol):
    def items(self) -> object: ...


@runtime_checkable
class HasItemsAndSize(HasItems, Protocol):
    size: int


class Sized:
    size = 3

    def items(self) -> list[tuple[str, int]]:
        return []


def test_each_protocol_keeps_its_own_members() -> None:
    assert isinstance({}, HasItems) and not isinstance([], HasItems)
    assert not isinstance({}, HasItemsAndSize)  # the derived protocol also wants `size`
    assert isinstance(Sized(), HasItemsAndSize) and isinstance(Sized(), HasItems)
    blocked = Sized()
    blocked.items = None  # type: ignore[assignment,method-assign]  a method set to None opts out...
    assert not isinstance(blocked, HasItemsAndSize)  # ...where members are looked up one by one


def test_a_protocol_with_data_members_still_refuses_issubclass() -> None:
    @runtime_checkable
    class HasSize(Protocol):  # its own class: ABCs remember earlier answers
        size: int

    assert issubclass(dict, HasItems) and not issubclass(list, HasItems)  # methods only: allowed
    with pytest.raises(TypeError, match="non-method members"):
        issubclass(Sized, HasSize)  # type: ignore[misc]  the refusal is the point
    assert isinstance(Sized(), HasSize) and not isinstance({}, HasSize)


def test_requests_and_rq_still_tell_good_values_from_bad() -> None:
    assert requests.utils.to_key_val_list({"a": 1}) == [("a", 1)]
    assert requests.utils.to_key_val_list([("b", 2)]) == [("b", 2)]
    with pytest.raises(ValueError, match="2-tuples"):
        requests.utils.to_key_val_list("text")  # type: ignore[call-overload]
    assert resolve_serializer(JSONSerializer) is JSONSerializer
    with pytest.raises(NotImplementedError):
        resolve_serializer(object())  # type: ignore[arg-type]
