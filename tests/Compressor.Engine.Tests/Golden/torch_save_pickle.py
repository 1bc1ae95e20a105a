"""Reference for PyTorchZipTests.StateDictPickleIsWhatCPythonPicklesForTorchSave.

torch.save pickles a state dict with CPython's own pickler at protocol 2; each tensor reduces to
torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict()) and each storage
becomes the persistent id ('storage', torch.<X>Storage, key, 'cpu', numel). PyTorch is not installable here, so this
script stands in minimal torch, torch._utils and storage classes (only their names matter to the pickler) and runs
the real pickler over the same views the test builds. It prints the length and sha256 the test expects.
Regenerate with: python3 torch_save_pickle.py
"""
import collections
import hashlib
import io
import pickle
import sys
import types

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
torch._utils = utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = utils


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    raise AssertionError("never called")


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2

CLASSES = ["FloatStorage", "HalfStorage", "LongStorage", "BFloat16Storage", "BoolStorage"]
for name in CLASSES:
    cls = type(name, (), {"__module__": "torch"})
    setattr(torch, name, cls)


class Storage:
    def __init__(self, cls, key, numel):
        self.cls, self.key, self.numel = cls, key, numel


class Tensor:
    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.shape), tuple(self.stride), False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.cls), obj.key, "cpu", obj.numel)
        return None


def views():
    """The same views as the C# test: 1001 tensors (two SETITEMS batches, memo slots past 255), five storage
    classes, element counts that need BININT1/BININT2/BININT/LONG1, transposed strides, offsets, tied storages,
    a scalar and a non-ASCII name."""
    out, previous, counter = [], None, 0
    for i in range(1001):
        name = "ünïcode.weight" if i == 0 else f"blocks.{i}.w"
        kind = i % 4
        numel = [i + 1, 6, 70000, 3_000_000_000][kind]
        if i % 7 == 3 and previous is not None:
            storage = previous
        else:
            storage = Storage(CLASSES[i % 5], str(counter), numel)
            counter += 1
        shape, stride = [([storage.numel], [1]), ([2, 3], [1, 2]), ([700, 100], [100, 1]), ([3, 1_000_000_000], [1_000_000_000, 1])][kind]
        if i == 10:
            shape, stride = [], []
        offset = 1 if i % 6 == 5 else 0
        out.append((name, Tensor(storage, offset, shape, stride)))
        previous = storage
    return out


buffer = io.BytesIO()
Pickler(buffer, protocol=2).dump(collections.OrderedDict(views()))
data = buffer.getvalue()
print(len(data), hashlib.sha256(data).hexdigest())
