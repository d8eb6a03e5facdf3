"""Documentation generators: the reference pages and the measured-numbers page are built from the code and from
recorded bench output at `make docs` time, so nothing in the site can drift from what the program does.

Not part of the installed product (``provenance`` never imports this); the MkDocs build runs it through
``docs/gen_reference.py`` (mkdocs-gen-files), and ``tests/test_docs_reference.py`` calls it directly.
"""

from docsgen.pages import generate_pages

__all__ = ["generate_pages"]
