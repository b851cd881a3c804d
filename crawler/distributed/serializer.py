"""How requests are stored in the shared queue (scrapy-redis SCHEDULER_SERIALIZER): MessagePack.

scrapy-redis pickles by default, and unpickling runs whatever code the bytes ask for: anyone who
can write to the Redis server could run code on every worker. `Request.to_dict()` holds only
strings, bytes, numbers, lists and dicts (headers are bytes, keyed by bytes), which MessagePack
keeps apart and round-trips without executing anything.
"""

from __future__ import annotations

import msgpack


def dumps(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def loads(data: bytes):
    return msgpack.unpackb(data, raw=False, strict_map_key=False)
