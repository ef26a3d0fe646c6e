"""Copy the JavaScript the site serves itself into ``_vendor/`` (Sphinx's ``html_static_path``).

Sources: ``node_modules/`` (installed from the pinned ``package.json``/``package-lock.json`` by
``npm ci``) and the plotly Python package. Nothing here is committed; ``make`` reruns this.
JavaScript lives in ``_vendor/`` rather than ``_static/`` because Jupyter Book 1 adds every ``*.js``
under ``_static/`` to every page.
"""

from __future__ import annotations

import pathlib
import shutil
import sys

import plotly

ROOT = pathlib.Path(__file__).resolve().parents[1]
NODE = ROOT / "node_modules"
VENDOR = ROOT / "_vendor"

# Runs between require.js and the widget bundle so the bundle loads its chunks and fonts from
# beside itself instead of from a CDN.
REQUIRE_CONFIG = 'require.config({ baseUrl: new URL("./", document.currentScript.src).href });\n'


def main() -> int:
    needed = [
        NODE / "mathjax/es5/tex-mml-chtml.js",
        NODE / "requirejs/require.js",
        NODE / "@jupyter-widgets/html-manager/dist/embed-amd.js",
    ]
    missing = [str(p.relative_to(ROOT)) for p in needed if not p.exists()]
    if missing:
        print(
            f"vendor_assets: missing {', '.join(missing)}; run `npm ci` first",
            file=sys.stderr,
        )
        return 1
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir()
    shutil.copytree(NODE / "mathjax/es5", VENDOR / "mathjax")
    shutil.copy(NODE / "requirejs/require.js", VENDOR / "require.js")
    (VENDOR / "require-config.js").write_text(REQUIRE_CONFIG)
    # The widget bundle asks for its fonts under <baseUrl>/@jupyter-widgets/html-manager/dist/.
    fonts = VENDOR / "@jupyter-widgets/html-manager/dist"
    fonts.mkdir(parents=True)
    for f in (NODE / "@jupyter-widgets/html-manager/dist").iterdir():
        if f.suffix == ".js":
            shutil.copy(f, VENDOR / f.name)
        elif f.suffix in {".woff", ".woff2", ".ttf", ".eot", ".svg"}:
            shutil.copy(f, fonts / f.name)
    shutil.copy(
        pathlib.Path(plotly.__file__).parent / "package_data/plotly.min.js",
        VENDOR / "plotly.min.js",
    )
    print(
        f"vendor_assets: {sum(1 for _ in VENDOR.rglob('*'))} files in {VENDOR.relative_to(ROOT)}/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
