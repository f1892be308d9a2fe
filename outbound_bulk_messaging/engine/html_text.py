"""Plain-text alternative of an HTML email body.

Every HTML email also carries a text part: clients that show only text, screen readers and spam
filters read it. It is derived from the rendered HTML with the standard library only, so it stays
in step with the HTML without a second template to maintain.
"""

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

# Elements whose content is never shown to the reader.
_SKIPPED = frozenset({"script", "style", "head", "template"})
# Elements that stand apart from the surrounding text by a blank line.
_PARAGRAPHS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table", "blockquote", "pre", "hr"}
    | {"address", "figure", "form", "fieldset"}
)
# Elements that start on a line of their own.
_LINES = frozenset(
    {"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer", "main", "nav"}
    | {"aside", "caption", "figcaption", "details", "summary", "center", "title"}
)
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"\s+")
_TRAILING_SPACES = re.compile(r"[ \t]+\n")
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html):
    """Return a readable plain-text version of ``html``.

    Scripts, styles and the head are dropped, block elements and ``<br>`` become line breaks,
    list items start with ``- ``, links read ``text [url]`` when the url is not the text itself,
    whitespace is collapsed and entities are unescaped.
    """
    parser = _TextExtractor()
    parser.feed(html or "")
    parser.close()
    return parser.text()


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self._parts = []
        self._pending_newlines = 0
        self._skip_depth = 0
        self._pre_depth = 0
        self._links = []  # (href, index of the first part of the link text)

    def text(self):
        text = _TRAILING_SPACES.sub("\n", "".join(self._parts))
        return _EXTRA_BLANK_LINES.sub("\n\n", text).strip()

    # ---- PARSER CALLBACKS

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self._skip_depth = 0  # an unclosed <head> must not swallow the body
        elif tag in _SKIPPED:
            self._skip_depth += 1
        elif not self._skip_depth:
            self._open(tag, dict(attrs))

    def handle_endtag(self, tag):
        if tag in _SKIPPED:
            self._skip_depth = max(self._skip_depth - 1, 0)
        elif not self._skip_depth:
            self._close(tag)

    def handle_data(self, data):
        if self._skip_depth:
            return
        if not self._pre_depth:
            data = _SPACES.sub(" ", data)
        self._write(data)

    # ---- ELEMENTS

    def _open(self, tag, attrs):
        self._block_edge(tag)
        if tag == "br":
            self._break(1, force=True)
        elif tag == "li":
            self._write("- ")
        elif tag == "a":
            self._links.append((attrs.get("href") or "", len(self._parts)))
        elif tag == "pre":
            self._pre_depth += 1

    def _close(self, tag):
        if tag == "a" and self._links:
            self._end_link(*self._links.pop())
        elif tag == "pre":
            self._pre_depth = max(self._pre_depth - 1, 0)
        elif tag in _CELLS:
            self._write(" ")
        self._block_edge(tag)

    def _block_edge(self, tag):
        if tag in _PARAGRAPHS:
            self._break(2)
        elif tag in _LINES:
            self._break(1)

    def _end_link(self, href, start):
        text = "".join(self._parts[start:]).strip()
        if _shows_url(href) and href not in (text, f"mailto:{text}", f"tel:{text}"):
            self._write(f" [{href}]")

    # ---- OUTPUT

    def _break(self, count, force=False):
        """Ask for ``count`` line breaks before the next text; ``<br>`` breaks add up."""
        if force:
            self._pending_newlines += count
        else:
            self._pending_newlines = max(self._pending_newlines, count)

    def _write(self, text):
        if self._pending_newlines:
            if self._parts:
                self._parts.append("\n" * self._pending_newlines)
            self._pending_newlines = 0
        if not self._pre_depth and self._last_char() in " \n":
            text = text.lstrip(" ")  # spaces from two elements collapse like spaces in one
        if text:
            self._parts.append(text)

    def _last_char(self):
        return self._parts[-1][-1] if self._parts else "\n"


def _shows_url(href):
    """Anchors inside the page and scripts mean nothing to a text reader."""
    return bool(href) and not href.startswith("#") and not href.lower().startswith("javascript:")
