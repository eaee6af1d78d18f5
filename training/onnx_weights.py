"""Reads the initializers (weights) of an ONNX file into numpy arrays, with no onnx package.

An ONNX file is a protobuf ModelProto; this walks only the fields needed: ModelProto.graph (7) →
GraphProto.initializer (5) → TensorProto dims (1), data_type (2), float_data (4), int64_data (7),
name (8), raw_data (9). Used to fine-tune a shipped network (training/drakes.py) from its exported weights.
"""
import numpy as np

DTYPES = {1: np.float32, 6: np.int32, 7: np.int64, 10: np.float16, 11: np.float64}


def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf):
    """Yields (field number, wire type, value) of one message; value is bytes for length-delimited fields."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def _tensor(buf):
    dims, dtype, name, raw, floats, ints = [], 1, "", None, [], []
    for field, wire, value in _fields(buf):
        if field == 1:
            if wire == 2:
                j = 0
                while j < len(value):
                    d, j = _varint(value, j)
                    dims.append(d)
            else:
                dims.append(value)
        elif field == 2:
            dtype = value
        elif field == 8:
            name = bytes(value).decode()
        elif field == 9:
            raw = bytes(value)
        elif field == 4:
            floats.append(np.frombuffer(bytes(value), np.float32) if wire == 2 else np.frombuffer(bytes(value), np.float32))
        elif field == 7 and wire == 2:
            j = 0
            while j < len(value):
                d, j = _varint(value, j)
                ints.append(d)
    if dtype not in DTYPES:
        raise ValueError(f"initializer {name}: unsupported ONNX data type {dtype}")
    if raw is not None:
        arr = np.frombuffer(raw, DTYPES[dtype]).copy()
    elif floats:
        arr = np.concatenate(floats).astype(DTYPES[dtype])
    else:
        arr = np.array(ints, DTYPES[dtype])
    return name, arr.reshape(dims)


def initializers(path):
    """{name: array} of every initializer in the ONNX file's main graph."""
    buf = memoryview(open(path, "rb").read())
    out = {}
    for field, _, graph in _fields(buf):
        if field != 7:
            continue
        for gfield, _, value in _fields(graph):
            if gfield == 5:
                name, arr = _tensor(value)
                out[name] = arr
    return out


if __name__ == "__main__":
    import sys
    for name, arr in initializers(sys.argv[1]).items():
        print(name, arr.dtype, arr.shape)
