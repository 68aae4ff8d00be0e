"""Which characters OpenCC's Traditional → Simplified conversion (t2s) can change, read from the dictionaries it
loads, so that normalisation can skip the conversion for a text holding none of them (most Simplified posts).

OpenCC converts by replacing each longest dictionary key found in the text with the key's first value. A character
of the text can change only where a matched key and its value differ, so a text holding no character found at such
a place in any key (nor in a key whose value has another length) is left as it is. These are the characters read
here: every single-character conversion (說 → 说) and the few that change only inside a phrase (乾 in 乾燥 → 干燥).

The dictionaries are those `t2s.json` names, in OpenCC's `.ocd2` format: a header, a MARISA trie of the keys
(read with marisa-trie, whose key ids index the values), then the values: their count and bytes, the NUL-ended
strings, and per key the number of its values and each one's length in bytes (little-endian uint32, uint32, bytes,
then uint16 counts and lengths).
"""

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import marisa_trie
import opencc

HEADER = b"OPENCC_MARISA_0.2.5"


def share_dir() -> Path:
    """Where the installed OpenCC keeps its configurations and dictionaries."""
    return Path(opencc.__file__).parent / "clib" / "share" / "opencc"


def read_ocd2(path: Path) -> dict[str, list[str]]:
    """Every key of an OpenCC `.ocd2` dictionary with its values (the first is the one conversion uses)."""
    data = path.read_bytes()
    if not data.startswith(HEADER):
        raise ValueError(f"{path.name}: not an OpenCC {HEADER.decode()} dictionary")
    trie = marisa_trie.Trie().frombytes(data[len(HEADER) :])
    rest = memoryview(data)[len(HEADER) + len(trie.tobytes()) :]
    count, size = struct.unpack_from("<II", rest)
    strings = bytes(rest[8 : 8 + size])
    at, position = 8 + size, 0
    values: list[list[str]] = []
    for _ in range(count):
        (n,) = struct.unpack_from("<H", rest, at)
        lengths = struct.unpack_from(f"<{n}H", rest, at + 2)
        at += 2 + 2 * n
        own = []
        for length in lengths:
            if strings[position + length - 1] != 0:
                raise ValueError(f"{path.name}: a value is not NUL-ended")
            own.append(strings[position : position + length - 1].decode("utf-8"))
            position += length
        values.append(own)
    if count != len(trie) or at != len(rest) or position != size:
        raise ValueError(f"{path.name}: {count} values for {len(trie)} keys, or bytes left over")
    return {key: values[trie[key]] for key in trie}


def _dictionary_files(node: object) -> Iterator[str]:
    """The `.ocd2` files a configuration names, at any depth (groups hold lists of dictionaries)."""
    if isinstance(node, dict):
        if node.get("type") == "ocd2" and "file" in node:
            yield node["file"]
        for value in node.values():
            yield from _dictionary_files(value)
    elif isinstance(node, list):
        for value in node:
            yield from _dictionary_files(value)


def changing_characters(config: str = "t2s") -> frozenset[str]:
    """The characters the conversion can change (see the module docstring)."""
    share = share_dir()
    spec = json.loads((share / f"{config}.json").read_text(encoding="utf-8"))
    files = sorted(set(_dictionary_files(spec)))
    if not files:
        raise ValueError(f"{config}.json names no .ocd2 dictionary")
    chars: set[str] = set()
    for name in files:
        for key, values in read_ocd2(share / name).items():
            value = values[0] if values else key
            if len(value) != len(key):
                chars.update(key)
            else:
                chars.update(k for k, v in zip(key, value, strict=True) if k != v)
    return frozenset(chars)
