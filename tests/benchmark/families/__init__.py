"""The measurement families, in the order of the tables.  Adding one: a module here with a
Family subclass (see rounds.py) named FAMILY, and its name in ORDER."""
import importlib

ORDER = ["onnxruntime", "openvino", "libconvnext", "pipeline", "onnxinference", "preprocess",
         "element", "roi", "debian13"]


def load(names=None):
    """Instances of the families in ORDER (or only `names`, in ORDER's order)."""
    unknown = set(names or []) - set(ORDER)
    if unknown:
        raise SystemExit(f"unknown families {sorted(unknown)}; known: {', '.join(ORDER)}")
    return [importlib.import_module(f"families.{n}").FAMILY() for n in ORDER
            if not names or n in names]
