"""Syntax highlighting for the code browser (Pygments escapes everything it emits)."""

from __future__ import annotations

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(
    linenos="inline", lineanchors="L", anchorlinenos=True, cssclass="highlight"
)


def highlight_file(path: str, text: str) -> Markup:
    try:
        lexer = get_lexer_for_filename(path, stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    return Markup(highlight(text, lexer, _FORMATTER))  # Pygments escaped it


def stylesheet() -> str:
    return str(_FORMATTER.get_style_defs(".highlight"))  # type: ignore[no-untyped-call]
