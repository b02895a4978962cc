"""Model families: one file each. Importing this package imports (and so registers) every module in it."""

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_") and _info.name not in ("layers", "losses"):
        importlib.import_module(f"{__name__}.{_info.name}")
