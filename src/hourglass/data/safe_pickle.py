"""Read the data out of a pickle without executing it.

CIFAR-10's official "python version" is a set of pickles. ``pickle.load`` on a file runs
whatever callables the file names, so we never call it. Instead this walks the opcode stream
(``pickletools.genops`` only parses) on a small stack machine that builds plain containers,
and keeps every reference to a global (``GLOBAL``/``REDUCE``/``BUILD``) as an inert record.
Afterwards, the only records turned into values are the few that are data by construction:
numpy arrays (raw bytes plus a dtype string) and ``_codecs.encode`` (Python 3's protocol-2
spelling of ``bytes``). Nothing is imported, nothing named by the file is called.
"""

from __future__ import annotations

import io
import pickletools
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class UnsafePickleError(ValueError):
    """The pickle holds something other than plain data and numpy arrays."""


@dataclass
class _Global:
    module: str
    name: str


@dataclass
class _Call:
    func: Any
    args: tuple
    state: Any = field(default=None)


_MARK = object()
_ARRAY_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"),
                      ("numpy._core.multiarray", "_reconstruct")}
_ARRAY_FROMBUFFER = {("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}
_DTYPE = {("numpy", "dtype")}
_ENCODE = {("_codecs", "encode")}

_PUSH_ARG = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT",
             "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
             "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
             "BYTEARRAY8"}
_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_IGNORED = {"PROTO", "FRAME", "STOP"}


def _pop_mark(stack: list) -> list:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _MARK:
            items = stack[i + 1:]
            del stack[i:]
            return items
    raise UnsafePickleError("malformed pickle: no MARK")


def _key(k: Any) -> Any:
    """Dict keys as str: Python 2's byte strings and Python 3's encoded bytes alike."""
    if isinstance(k, _Call):
        k = _materialize(k)
    if isinstance(k, bytes):
        return k.decode("latin-1")
    if isinstance(k, (str, int, float, tuple)) or k is None:
        return k
    raise UnsafePickleError(f"dict key of type {type(k).__name__}")


def _run(data: bytes) -> Any:  # noqa: C901 - one flat dispatch on opcode names reads best
    stack: list = []
    memo: dict[int, Any] = {}
    for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
        name = op.name
        if name in _PUSH_ARG:
            stack.append(bytes(arg) if isinstance(arg, bytearray) else arg)
        elif name in _CONSTANTS:
            stack.append(_CONSTANTS[name])
        elif name in _IGNORED:
            continue
        elif name == "MARK":
            stack.append(_MARK)
        elif name in ("EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE"):
            stack.append({"EMPTY_DICT": {}, "EMPTY_LIST": [], "EMPTY_TUPLE": ()}[name])
        elif name == "DICT":
            items = _pop_mark(stack)
            stack.append({_key(items[i]): items[i + 1] for i in range(0, len(items), 2)})
        elif name == "LIST":
            stack.append(_pop_mark(stack))
        elif name == "TUPLE":
            stack.append(tuple(_pop_mark(stack)))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = tuple(stack[-n:])
            del stack[-n:]
            stack.append(items)
        elif name == "APPEND":
            item = stack.pop()
            stack[-1].append(item)
        elif name == "APPENDS":
            items = _pop_mark(stack)
            stack[-1].extend(items)
        elif name == "SETITEM":
            value, key = stack.pop(), stack.pop()
            stack[-1][_key(key)] = value
        elif name == "SETITEMS":
            items = _pop_mark(stack)
            for i in range(0, len(items), 2):
                stack[-1][_key(items[i])] = items[i + 1]
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo[arg])
        elif name == "GLOBAL":
            module, _, attr = arg.partition(" ")
            stack.append(_Global(module, attr))
        elif name == "STACK_GLOBAL":
            attr, module = stack.pop(), stack.pop()
            stack.append(_Global(module, attr))
        elif name in ("REDUCE", "NEWOBJ"):
            args, func = stack.pop(), stack.pop()
            stack.append(_Call(func, tuple(args)))
        elif name == "BUILD":
            state = stack.pop()
            if not isinstance(stack[-1], _Call):
                raise UnsafePickleError("BUILD on something that is not an object record")
            stack[-1].state = state
        elif name == "POP":
            stack.pop()
        elif name == "POP_MARK":
            _pop_mark(stack)
        elif name == "DUP":
            stack.append(stack[-1])
        else:
            raise UnsafePickleError(f"unsupported pickle opcode {name}")
    if len(stack) != 1:
        raise UnsafePickleError("malformed pickle: stack does not end with one object")
    return stack[0]


def _as_bytes(x: Any) -> bytes:
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):  # Python 2 str, decoded as latin-1 by genops
        return x.encode("latin-1")
    x = _materialize(x)
    if isinstance(x, bytes):
        return x
    raise UnsafePickleError("expected raw bytes for array data")


def _dtype(record: Any) -> np.dtype:
    if not (isinstance(record, _Call) and isinstance(record.func, _Global)
            and (record.func.module, record.func.name) in _DTYPE and record.args
            and isinstance(record.args[0], str)):
        raise UnsafePickleError("array without a plain dtype")
    dt = np.dtype(record.args[0])
    if dt.kind not in "biuf":
        raise UnsafePickleError(f"array of dtype {dt} is not plain numbers")
    if isinstance(record.state, tuple) and len(record.state) > 1 and record.state[1] in "<>":
        dt = dt.newbyteorder(record.state[1])
    return dt


# Limits no real data pickle meets (a CIFAR-10 batch: 4 keys, 10,000 labels and file names,
# one array, depth 2): memo references make a small file a graph whose copy can be
# exponential ("billion laughs"), or a cycle, or deeper than Python's recursion limit.
MAX_DEPTH = 100
MAX_ITEMS = 1_000_000


class _Materializer:
    """Plain values from the walked graph, refusing cycles, depth and size past the limits."""

    def __init__(self) -> None:
        self.left = MAX_ITEMS
        self.path: set[int] = set()  # ids of the containers being copied: a repeat is a cycle

    def __call__(self, x: Any, depth: int = 0) -> Any:
        self.left -= 1
        if self.left < 0:
            raise UnsafePickleError(f"more than {MAX_ITEMS:,} objects once references are "
                                    "followed")
        if depth > MAX_DEPTH:
            raise UnsafePickleError(f"nested deeper than {MAX_DEPTH} levels")
        if not isinstance(x, dict | list | tuple | _Call):
            if isinstance(x, _Global):
                raise UnsafePickleError(f"reference to {x.module}.{x.name}")
            return x
        if id(x) in self.path:
            raise UnsafePickleError("an object that contains itself")
        self.path.add(id(x))
        try:
            return self._container(x, depth + 1)
        finally:
            self.path.discard(id(x))

    def _container(self, x: Any, depth: int) -> Any:
        if isinstance(x, dict):
            return {k: self(v, depth) for k, v in x.items()}
        if isinstance(x, list):
            return [self(v, depth) for v in x]
        if isinstance(x, tuple):
            return tuple(self(v, depth) for v in x)
        if not isinstance(x.func, _Global):
            raise UnsafePickleError("call of something that is not a global")
        key = (x.func.module, x.func.name)
        if key in _ENCODE and len(x.args) == 2 and isinstance(x.args[0], str):
            return x.args[0].encode("latin-1")
        if key in _ARRAY_RECONSTRUCT and isinstance(x.state, tuple) and len(x.state) == 5:
            _version, shape, dtype, fortran, raw = x.state
            arr = np.frombuffer(_as_bytes(raw), dtype=_dtype(dtype))
            return arr.reshape(tuple(self(shape, depth)), order="F" if fortran else "C")
        if key in _ARRAY_FROMBUFFER and len(x.args) == 4:
            raw, dtype, shape, order = x.args
            arr = np.frombuffer(_as_bytes(raw), dtype=_dtype(dtype))
            return arr.reshape(tuple(self(shape, depth)), order=order)
        raise UnsafePickleError(f"object of {x.func.module}.{x.func.name}")


def _materialize(x: Any) -> Any:
    return _Materializer()(x)


def load_data_pickle(data: bytes) -> Any:
    """Plain containers, numbers, strings and numpy arrays from pickle bytes, never executed."""
    try:
        return _materialize(_run(data))
    except UnsafePickleError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, AttributeError) as e:
        raise UnsafePickleError(f"malformed pickle ({e})") from e
