import pytest

from imagearena.errors import UnknownNameError
from imagearena.registry import Registry


def test_register_and_create_by_callable_and_by_target():
    reg: Registry[object] = Registry("widget", "imagearena.test-widgets-none")
    reg.register("dict", dict)
    reg.register("counter", "collections:Counter")
    assert reg.names() == ["counter", "dict"]
    assert reg.create("dict", a=1) == {"a": 1}
    assert reg.create("counter", a=2)["a"] == 2


def test_decorator_registers_class():
    reg: Registry[object] = Registry("widget", "imagearena.test-widgets-none")

    @reg.register("thing")
    class Thing:
        pass

    assert isinstance(reg.create("thing"), Thing)


def test_unknown_name_lists_available():
    reg: Registry[object] = Registry("widget", "imagearena.test-widgets-none")
    reg.register("a", dict)
    with pytest.raises(UnknownNameError, match="unknown widget 'nope'; available: a"):
        reg.create("nope")
