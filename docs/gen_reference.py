"""Build-time hook (mkdocs-gen-files): write the generated reference and measured-numbers pages into the site.
The pages exist only in the build, never in the repository; see docsgen/ for how each one is made."""

from __future__ import annotations

import sys
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from docsgen import generate_pages  # noqa: E402

for path, content in generate_pages().items():
    with mkdocs_gen_files.open(path, "w") as handle:
        handle.write(content)
