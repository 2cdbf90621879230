"""Loading nnU-Net's `.pkl` property files without running code.

A pickle can name any importable callable, so an ordinary `pickle.load` of a file from
elsewhere runs whatever it names. nnU-Net writes plain containers (dicts, lists, tuples), numbers,
strings and NumPy arrays and scalars; only the globals those need are admitted, anything else is
refused before it is looked up.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from seguq.errors import SeguqError

# The globals a pickle of plain values and NumPy arrays / scalars names (NumPy 1 and 2 paths).
_ALLOWED = {
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing '{module}.{name}'")
        return super().find_class(module, name)


def load_plain_pickle(path: Path) -> object:
    """The value of a pickle that holds only plain values and NumPy arrays.

    Raises:
        SeguqError: the file is missing, corrupt, or names anything else (nothing is run).
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return _PlainUnpickler(handle).load()
    except FileNotFoundError:
        raise SeguqError(f"{path}: does not exist") from None
    except pickle.UnpicklingError as error:
        raise SeguqError(
            f"{path}: not a plain nnU-Net properties file ({error}); nothing was run"
        ) from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, OSError) as error:
        raise SeguqError(f"{path}: corrupt pickle ({error})") from None
