"""Every domain's models in one metadata: what Alembic and the tests use."""

import importlib

from matchmaker.db import Base

MODEL_MODULES = [
    "matchmaker.firms.models",
    "matchmaker.accounts.models",
    "matchmaker.matching.models",
    "matchmaker.refdata.models",
    "matchmaker.contracts.models",
    "matchmaker.networks.models",
    "matchmaker.associations.models",
]

for _name in MODEL_MODULES:
    importlib.import_module(_name)

__all__ = ["Base"]
