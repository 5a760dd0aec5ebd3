"""custlens: customer analytics from shop, CRM and accounting exports.

    from custlens import load_purchases, customers
    purchases, report = load_purchases(["orders.csv"])
    table = customers(purchases).customers

The public functions are imported on first use, so ``custlens --help`` does not load pandas.
"""

from importlib import import_module

__version__ = "0.1.0"

_PUBLIC = {
    "load_purchases": "custlens.io",
    "load_contacts": "custlens.io",
    "load_interactions": "custlens.io",
    "LoadOptions": "custlens.io",
    "LoadReport": "custlens.io",
    "inspect": "custlens.io.inspect",
    "customers": "custlens.summary",
    "Summary": "custlens.summary",
    "emit": "custlens.output",
    "CustlensError": "custlens.errors",
}
__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'custlens' has no attribute {name!r}")
