"""``python -m common.data [--from DIR] [NAME …]`` (``make data``): prepare the tfds datasets.

Without ``--from``, downloads and prepares every registered tfds dataset (or the NAMEs given).
With ``--from DIR``, prepares NAME (``fashion_mnist`` or ``mnist``) from the original idx files
in DIR with no network, e.g. Debian's ``dataset-fashion-mnist``::

    python -m common.data --from /usr/share/datasets/fashion-mnist fashion_mnist
"""

import argparse
import sys

from .registry import DatasetUnavailableError, fetch, prepare_from_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m common.data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", help="datasets (default: every tfds-backed one)")
    parser.add_argument("--from", dest="folder", help="prepare from local original files in DIR")
    parser.add_argument("--data-dir", help="tfds data directory (default: tfds's own)")
    args = parser.parse_args(argv)
    try:
        if args.folder:
            if len(args.names) != 1:
                parser.error("--from DIR prepares one dataset: name it, e.g. fashion_mnist")
            prepare_from_folder(args.names[0], args.folder, data_dir=args.data_dir)
        else:
            fetch(args.names or None)
    except (ValueError, DatasetUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


sys.exit(main())
